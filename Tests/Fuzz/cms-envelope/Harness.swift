// libFuzzer harness: the CMS EnvelopedData / AuthEnvelopedData reader (CMSEnvelope.read: DER,
// BER, PEM and S/MIME, then parse(der:)), over files as `openssl cms -encrypt` writes them.
// Built by scripts/fuzz with CMSEnvelope.swift and StoreError.swift over SwiftASN1 and PKCS11.
// Any input must be refused with a StoreError or read, never crash, hang or read out of bounds.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    _ = try? CMSEnvelope.read(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
