// libFuzzer harness: the PFX structure walk that runs before OpenSSL (PFXPreflight, DERReader).
// Built by scripts/fuzz with the PKCS12 sources it needs; any input must be answered by a
// refusal or a pass, never a crash, a hang or an out-of-bounds read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? PFXPreflight.check(bytes, limits: PFXLimits(maxIterations: 100_000))
    return 0
}
