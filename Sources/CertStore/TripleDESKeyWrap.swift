import Crypto
internal import PKCS11
import PKCS12

/// The CMS Triple-DES key wrap (RFC 3217 §3.2), unwrapping only: two 3DES-CBC passes around a
/// byte reversal, then the SHA-1 checksum of the content key.
enum TripleDESKeyWrap {
    private static let oid = "1.2.840.113549.3.7"
    private static let firstIV: [UInt8] = [0x4A, 0xDD, 0xA2, 0x2C, 0x79, 0xE8, 0x21, 0x05]

    struct Failure: Error {}

    static func unwrap(_ wrapped: [UInt8], kek: [UInt8]) throws -> [UInt8] {
        guard wrapped.count == 40 else { throw Failure() }
        var temp3 = try ContentCipher.decrypt(oid: oid, key: kek, iv: firstIV, ciphertext: wrapped, padded: false)
        defer { wipe(&temp3) }
        let temp2 = Array(temp3.reversed())
        var padded = try ContentCipher.decrypt(
            oid: oid, key: kek, iv: Array(temp2.prefix(8)), ciphertext: Array(temp2.dropFirst(8)), padded: false)
        defer { wipe(&padded) }
        guard padded.count == 32 else { throw Failure() }
        let key = Array(padded.prefix(24))
        let checksum = Array(Insecure.SHA1.hash(data: key)).prefix(8)
        guard Array(padded.suffix(8)) == Array(checksum) else { throw Failure() }
        return key
    }
}
