import Foundation
import PKCS11

/// A key pair made by `openssl`, put on a token with chosen flags, with a self-signed
/// certificate (also made by `openssl`) and the public key as PEM for `openssl dgst -verify`.
public struct InstalledKey: Sendable {
    public let label: String
    public let id: [UInt8]
    public let uri: String
    /// The certificate as PEM and DER files, and its public key as a PEM file.
    public let certificatePEM: String
    public let certificateDER: String
    public let publicKeyPEM: String
    public let privateKeyPEM: String
}

/// Key types the tests put on tokens.
public enum TestKeyType: String, Sendable, CaseIterable, CustomStringConvertible {
    case rsa2048, p256, p384, ed25519
    public var description: String { rawValue }

    var genpkeyArguments: [String] {
        switch self {
        case .rsa2048: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        case .p256: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        case .p384: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]
        case .ed25519: ["-algorithm", "ED25519"]
        }
    }

    /// CKA_EC_PARAMS: the DER of the curve's OID (empty for RSA).
    public var curveOID: [UInt8] {
        switch self {
        case .p256: [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        case .p384: [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]
        case .ed25519: [0x06, 0x03, 0x2B, 0x65, 0x70]
        case .rsa2048: []
        }
    }
}

public enum TestKeys {
    /// Generates a key with openssl, imports its private half (and public half) into the token
    /// through `session`, and stores a self-signed certificate with the same id.
    public static func install(
        _ type: TestKeyType, high: Bool = false, label: String, id: [UInt8],
        token: TestToken, session: Session, in dir: TemporaryDirectory
    ) throws -> InstalledKey {
        let keyPath = dir.file("\(label).key.pem")
        let gen = try run("openssl", ["genpkey"] + type.genpkeyArguments + ["-out", keyPath])
        guard gen.status == 0 else { throw TestSupportError("openssl genpkey: \(gen.stderr)") }
        let certPath = dir.file("\(label).cert.pem")
        let derPath = dir.file("\(label).cert.der")
        let pubPath = dir.file("\(label).pub.pem")
        for arguments in [
            ["req", "-x509", "-key", keyPath, "-subj", "/CN=\(label)", "-days", "30", "-out", certPath],
            ["x509", "-in", certPath, "-outform", "DER", "-out", derPath],
            ["x509", "-in", certPath, "-pubkey", "-noout", "-out", pubPath],
        ] {
            let made = try run("openssl", arguments)
            guard made.status == 0 else { throw TestSupportError("openssl \(arguments[0]): \(made.stderr)") }
        }
        let flags = [Attribute(.sensitive, true), Attribute(.extractable, false), Attribute(.alwaysAuthenticate, high)]
        let common = [Attribute(.token, true), Attribute(.label, string: label), Attribute(.id, bytes: id)]
        switch type {
        case .rsa2048:
            let rsa = try RSAComponents(pemFile: keyPath)
            _ = try session.createObject(rsa.privateTemplate(label: label, id: id, extraFlags: flags))
            _ = try session.createObject(rsa.publicTemplate(label: label, id: id))
        case .p256, .p384, .ed25519:
            let fields = parseOpenSSLText(try run("openssl", ["pkey", "-in", keyPath, "-text", "-noout"]).stdout)
            guard var priv = fields["priv"], let pub = fields["pub"] else {
                throw TestSupportError("openssl pkey -text lacks priv/pub")
            }
            let keyType: KeyType = type == .ed25519 ? .ecEdwards : .ec
            if type == .ed25519 { priv = [UInt8](repeating: 0, count: 32 - priv.count) + priv }
            // An Ed25519 public key may start with zero bytes too; the point is always 32 bytes.
            let point = type == .ed25519 ? [UInt8](repeating: 0, count: 32 - pub.count) + pub : pub
            _ = try session.createObject(
                [
                    Attribute(.privateKey), Attribute(keyType), Attribute(.private, true), Attribute(.sign, true),
                    Attribute(.ecParams, bytes: type.curveOID), Attribute(.value, bytes: priv),
                ] + common + flags)
            _ = try session.createObject(
                [
                    Attribute(.publicKey), Attribute(keyType), Attribute(.verify, true),
                    Attribute(.ecParams, bytes: type.curveOID),
                    Attribute(.ecPoint, bytes: [0x04, UInt8(point.count)] + point),
                ] + common)
        }
        let der = [UInt8](try Data(contentsOf: URL(fileURLWithPath: derPath)))
        _ = try session.createObject(try certificateTemplate(der: der, label: label, id: id))
        return InstalledKey(
            label: label, id: id, uri: "pkcs11:token=\(token.label);object=\(label);type=private",
            certificatePEM: certPath, certificateDER: derPath, publicKeyPEM: pubPath, privateKeyPEM: keyPath)
    }
}

extension RSAComponents {
    /// The components of an RSA key in a PEM file made by openssl.
    public init(pemFile path: String) throws {
        let fields = parseOpenSSLText(try run("openssl", ["pkey", "-in", path, "-text", "-noout"]).stdout)
        func field(_ name: String) throws -> [UInt8] {
            guard let value = fields[name] else { throw TestSupportError("openssl pkey -text lacks \(name)") }
            return value
        }
        self.init(
            pem: try String(contentsOfFile: path, encoding: .utf8),
            modulus: try field("modulus"), publicExponent: try field("publicExponent"),
            privateExponent: try field("privateExponent"), prime1: try field("prime1"), prime2: try field("prime2"),
            exponent1: try field("exponent1"), exponent2: try field("exponent2"), coefficient: try field("coefficient"))
    }
}
