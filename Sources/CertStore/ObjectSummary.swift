import FoundationEssentials
internal import PKCS11
import PKCS12
import SwiftASN1
import X509

/// What `certbridge objects` shows for one object: every flag as the token reported it.
public struct ObjectSummary: Sendable, Codable, Hashable {
    /// A PKCS#11 URI that names this object.
    public var uri: String
    /// `private-key`, `public-key`, `certificate`, `secret-key` or `data`.
    public var `class`: String
    /// CKA_LABEL.
    public var label: String
    /// CKA_ID in lower-case hex.
    public var id: String
    /// `RSA`, `EC`, `EdDSA`, `AES` or the CKK name, for keys.
    public var keyType: String?
    /// The key size in bits, for keys.
    public var keyBits: Int?
    /// The curve name, for EC keys.
    public var curve: String?
    /// Every flag as the token reported it, for private and secret keys.
    public var flags: KeyFlags?
    /// `exportable` or `non-exportable`, for keys.
    public var verdict: String?
    /// Which flags decide the verdict.
    public var verdictReason: String?
    /// standard or high, for private keys.
    public var securityLevel: SecurityLevel?
    /// What the token lets a private key do: `sign`, `decrypt`, `unwrap`, `derive` (CKA_SIGN,
    /// CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE as read back).
    public var usage: [String]?
    /// Names and dates, for certificates.
    public var certificate: CertificateSummary?
    /// For a key: the label of the certificate with the same CKA_ID; for a certificate: the key's.
    public var pairedWith: String?
}

/// A certificate's names and dates, for people and scripts.
public struct CertificateSummary: Sendable, Codable, Hashable {
    /// The subject DN (RFC 4514).
    public var subject: String
    /// The issuer DN (RFC 4514).
    public var issuer: String
    /// The serial number in hex.
    public var serial: String
    /// Start of validity.
    public var notBefore: Date
    /// End of validity.
    public var notAfter: Date
    /// `authority`, `user`, `other-entity` or `unspecified` (CKA_CERTIFICATE_CATEGORY).
    public var category: String?

    /// The summary of a DER certificate, with its CKA_CERTIFICATE_CATEGORY if known.
    init(der: [UInt8], category: CertificateCategory? = nil) throws {
        let certificate = try CertificateFields(der: der)
        subject = certificate.subject
        issuer = certificate.issuer
        serial = certificate.serialNumber.lowercased()
        notBefore = certificate.notBefore
        notAfter = certificate.notAfter
        self.category = category.map(Self.name)
    }

    static func name(_ category: CertificateCategory) -> String {
        switch category {
        case .authority: "authority"
        case .tokenUser: "user"
        case .otherEntity: "other-entity"
        default: "unspecified"
        }
    }
}

/// The names CertBridge uses for object classes.
func className(_ objectClass: ObjectClass?) -> String {
    switch objectClass {
    case .privateKey?: "private-key"
    case .publicKey?: "public-key"
    case .certificate?: "certificate"
    case .secretKey?: "secret-key"
    case .data?: "data"
    default: objectClass.map { "vendor-\(String($0.rawValue, radix: 16))" } ?? "unknown"
    }
}

/// Named curves by their CKA_EC_PARAMS (DER OID): name and size in bits.
let namedCurves: [[UInt8]: (name: String, bits: Int)] = [
    [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]: ("P-256", 256),
    [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]: ("P-384", 384),
    [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23]: ("P-521", 521),
    [0x06, 0x03, 0x2B, 0x65, 0x70]: ("Ed25519", 255),
    [0x06, 0x03, 0x2B, 0x65, 0x71]: ("Ed448", 448),
]

/// The bit length of a big-endian unsigned integer (an RSA modulus).
func bitLength(_ bytes: [UInt8]) -> Int {
    guard let first = bytes.firstIndex(where: { $0 != 0 }) else { return 0 }
    return (bytes.count - first - 1) * 8 + (8 - bytes[first].leadingZeroBitCount)
}

/// Lower-case hex. Not `String(format:)`: that goes through Foundation's formatter per byte and
/// was an eighth of the time `certbridge objects` took on a 10,000-object token.
func hex<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
    let digits = Array("0123456789abcdef".utf8)
    return String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
        var i = 0
        for byte in bytes {
            buffer[i] = digits[Int(byte >> 4)]
            buffer[i + 1] = digits[Int(byte & 0x0F)]
            i += 2
        }
        return i
    }
}
