// libFuzzer harness: the RFC 7512 PKCS#11 URI parser (PKCS11URI). A parsed URI must print and
// parse again to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let uri = try? PKCS11URI(text) else { return 0 }
    guard let again = try? PKCS11URI(uri.description), again == uri else {
        fatalError("a parsed URI does not round-trip: \(uri.description)")
    }
    return 0
}
