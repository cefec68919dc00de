// libFuzzer harness: the software token's file decoders. Built once by scripts/fuzz with the
// SoftToken sources; CERTBRIDGE_FUZZ picks the decoder, each with its own seed corpus:
//   object      an object file (TokenObject.read); a private one's body is also sealed here
//               under a fixed master key, bound to its handle and generation as the token binds
//               it, so the attribute map inside is reached through the real unseal path
//   attributes  an attribute map (AttributeMap.decode), the body of every object file
//   record      the token, pins and keytries files (TokenRecord, PINCounters, KeyTries)
//   manifest    the manifest file as it is (refused: it does not open), and its plaintext
//               sealed here under the fixed key, through Manifest.open
// Any input must be refused or decoded, never crash; what decodes must encode and decode again
// to the same value.
internal import CPKCS11
import Glibc

private let masterKey = [UInt8](repeating: 0x4B, count: 32)
private let handle: CK_OBJECT_HANDLE = 0x1234

private func fail(_ what: String) -> Never { fatalError("\(what) does not decode again to the same value") }

private func object(_ bytes: [UInt8]) {
    guard let read = try? TokenObject.read(handle: handle, bytes: bytes, masterKey: nil) else { return }
    if !read.isPrivate {
        guard let file = try? read.fileBytes(masterKey: nil),
            let again = try? TokenObject.read(handle: handle, bytes: file, masterKey: nil),
            again.attributes == read.attributes, again.generation == read.generation
        else { fail("a public object file") }
        return
    }
    // The body as the plaintext of a private object, sealed as the token seals it.
    let legacy = Array(bytes[0..<4]) == TokenObject.legacyMagic
    let plain = Array(bytes[read.bodyOffset...])
    guard
        let sealed = try? Sealing.seal(
            plain, key: masterKey, aad: TokenObject.aad(handle, generation: legacy ? nil : read.generation))
    else { return }
    guard
        let opened = try? TokenObject.read(
            handle: handle, bytes: Array(bytes[0..<read.bodyOffset]) + sealed, masterKey: masterKey)
    else {
        return
    }
    guard let file = try? opened.fileBytes(masterKey: masterKey),
        let again = try? TokenObject.read(handle: handle, bytes: file, masterKey: masterKey),
        again.attributes == opened.attributes, again.generation == opened.generation
    else { fail("a private object file") }
}

private func attributes(_ bytes: [UInt8]) {
    guard let map = try? AttributeMap.decode(bytes) else { return }
    guard (try? AttributeMap.decode(map.encoded())) == map else { fail("an attribute map") }
}

private func record(_ bytes: [UInt8]) {
    if let token = try? TokenRecord.decode(bytes) {
        guard let again = try? TokenRecord.decode(token.encoded()), again.encoded() == token.encoded() else {
            fail("a token record")
        }
    }
    if let counters = try? PINCounters.decode(bytes) {
        guard (try? PINCounters.decode(counters.encoded())) == counters else { fail("a pins file") }
    }
    let tries = KeyTries.decode(bytes)
    guard KeyTries.decode(tries.encoded()) == tries else { fail("a keytries file") }
}

private func manifest(_ bytes: [UInt8]) {
    let serial = "0123456789abcdef"
    _ = try? Manifest.open(bytes, masterKey: masterKey, serial: serial)
    guard let sealed = try? Sealing.seal(bytes, key: masterKey, aad: Manifest.aad(serial: serial)),
        let opened = try? Manifest.open(Manifest.magic + sealed, masterKey: masterKey, serial: serial)
    else { return }
    guard let resealed = try? opened.sealed(masterKey: masterKey, serial: serial),
        (try? Manifest.open(resealed, masterKey: masterKey, serial: serial)) == opened
    else { fail("a manifest") }
}

private let decoder: ([UInt8]) -> Void = {
    switch getenv("CERTBRIDGE_FUZZ").map({ String(cString: $0) }) {
    case "object": object
    case "attributes": attributes
    case "record": record
    case "manifest": manifest
    default: fatalError("set CERTBRIDGE_FUZZ to object, attributes, record or manifest")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    decoder(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
