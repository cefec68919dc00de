import Foundation
import PKCS12
import TestSupport
import Testing

/// Ed25519 and Ed448 signatures made by `openssl pkeyutl -sign -rawin`, checked with
/// `PublicKeyInfo.isValidEdDSASignature` (OpenSSL's EVP_DigestVerify), the path `verify` and
/// `test-sign` take for Edwards keys.
@Suite("EdDSA verification with OpenSSL")
struct EdDSAVerificationTests {
    /// A fresh key of `algorithm`, its SPKI DER, and its signature of `message`, all by openssl.
    func signed(_ algorithm: String, _ message: [UInt8], in dir: TemporaryDirectory) throws -> (
        spki: [UInt8], signature: [UInt8]
    ) {
        let key = dir.file("\(algorithm).pem")
        let spki = dir.file("\(algorithm).spki")
        let sig = dir.file("\(algorithm).sig")
        let input = dir.file("\(algorithm).msg")
        try Data(message).write(to: URL(fileURLWithPath: input))
        for arguments in [
            ["genpkey", "-algorithm", algorithm, "-out", key],
            ["pkey", "-in", key, "-pubout", "-outform", "DER", "-out", spki],
            ["pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", input, "-out", sig],
        ] {
            let made = try run("openssl", arguments)
            try #require(made.status == 0, "openssl \(arguments[0]): \(made.stderr)")
        }
        return (
            [UInt8](try Data(contentsOf: URL(fileURLWithPath: spki))),
            [UInt8](try Data(contentsOf: URL(fileURLWithPath: sig)))
        )
    }

    @Test(
        "an openssl signature verifies; a changed message, a changed signature and a truncated one do not",
        arguments: [("ed25519", "Ed25519", 64), ("ed448", "Ed448", 114)])
    func verifies(algorithm: String, curve: String, length: Int) throws {
        let dir = try TemporaryDirectory()
        let message = Array("signed by openssl with \(algorithm)\n".utf8)
        let (spki, signature) = try signed(algorithm, message, in: dir)
        #expect(signature.count == length)
        #expect(PublicKeyInfo.edwardsCurve(of: spki) == curve)
        #expect(try PublicKeyInfo.isValidEdDSASignature(signature, of: message, publicKeyInfo: spki))
        #expect(try !PublicKeyInfo.isValidEdDSASignature(signature, of: message + [0x0A], publicKeyInfo: spki))
        var tampered = signature
        tampered[length / 2] ^= 0x01
        #expect(try !PublicKeyInfo.isValidEdDSASignature(tampered, of: message, publicKeyInfo: spki))
        #expect(try !PublicKeyInfo.isValidEdDSASignature(Array(signature.dropLast()), of: message, publicKeyInfo: spki))
    }

    @Test("a key that is not an Edwards key is an error, not a failed check")
    func notEdwards() throws {
        let dir = try TemporaryDirectory()
        let key = dir.file("p256.pem")
        let spki = dir.file("p256.spki")
        for arguments in [
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key],
            ["pkey", "-in", key, "-pubout", "-outform", "DER", "-out", spki],
        ] {
            try #require(try run("openssl", arguments).status == 0)
        }
        let der = [UInt8](try Data(contentsOf: URL(fileURLWithPath: spki)))
        #expect(PublicKeyInfo.edwardsCurve(of: der) == nil)
        #expect(throws: PKCS12Error.unsupportedAlgorithm) {
            try PublicKeyInfo.isValidEdDSASignature(
                [UInt8](repeating: 0, count: 64), of: [1, 2, 3], publicKeyInfo: der)
        }
    }

    @Test("an Ed448 public key object's attributes, with the curve as OID or PrintableString, give openssl's SPKI")
    func ed448FromAttributes() throws {
        let dir = try TemporaryDirectory()
        let (spki, _) = try signed("ed448", [1], in: dir)
        let raw = Array(spki.suffix(57))
        let point = [0x04, 57] + raw
        #expect(try PublicKeyInfo.edwards(parameters: [0x06, 0x03, 0x2B, 0x65, 0x71], point: point) == spki)
        #expect(try PublicKeyInfo.edwards(parameters: [0x13, 0x0A] + Array("edwards448".utf8), point: point) == spki)
        #expect(throws: PKCS12Error.unsupportedAlgorithm) {
            try PublicKeyInfo.edwards(parameters: [0x13, 0x05] + Array("other".utf8), point: point)
        }
    }
}
