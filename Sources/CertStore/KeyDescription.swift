public import PKCS11
import SwiftASN1
import X509

/// The kind of a signing key, as the token reports it.
public enum KeyKind: Sendable, Hashable {
    case rsa(bits: Int)
    /// A Weierstrass curve key; `curve` is `P-256`, `P-384`, `P-521` or `unknown (…)`.
    case ec(curve: String, bits: Int)
    /// An Edwards curve key (Ed25519, Ed448).
    case edwards(curve: String)

    /// The algorithm `sign` uses when none is given: PKCS#1 v1.5 with SHA-256 for RSA, ECDSA
    /// with the digest that matches the curve size, EdDSA for Edwards keys.
    public var defaultAlgorithm: SignatureAlgorithm {
        switch self {
        case .rsa: .rsaPKCS1(.sha256)
        case .ec(_, let bits): .ecdsa(bits > 384 ? .sha512 : bits > 256 ? .sha384 : .sha256)
        case .edwards: .eddsa
        }
    }

    /// e.g. `RSA 2048`, `EC P-256`, `EdDSA Ed25519`.
    public var description: String {
        switch self {
        case .rsa(let bits): "RSA \(bits)"
        case .ec(let curve, _): "EC \(curve)"
        case .edwards(let curve): "EdDSA \(curve)"
        }
    }

    /// The length of one ECDSA coordinate in bytes, for r‖s.
    var coordinateLength: Int? {
        if case .ec(_, let bits) = self { return (bits + 7) / 8 }
        return nil
    }
}

/// What CertBridge knows about a private key it signs with: names, kind, and the flags read
/// back from the token.
public struct KeyDescription: Sendable, Hashable {
    /// The key's CKA_LABEL.
    public let label: String
    /// The key's CKA_ID.
    public let id: [UInt8]
    /// RSA, EC or Edwards, with size or curve.
    public let kind: KeyKind
    /// The flags the token reported for the key.
    public internal(set) var flags: KeyFlags
    /// The URI that names exactly this key.
    public let uri: PKCS11URI

    /// High when the token reports CKA_ALWAYS_AUTHENTICATE.
    public var securityLevel: SecurityLevel { flags.securityLevel }
}

extension KeyDescription {
    static let attributes: [AttributeType] =
        [.label, .id, .keyType, .modulus, .modulusBits, .ecParams, .sign] + KeyFlags.attributes

    init(_ values: AttributeValues, token: Token) throws(StoreError) {
        label = values.label ?? ""
        id = values.id ?? []
        flags = KeyFlags(values)
        switch values.keyType {
        case .rsa?:
            kind = .rsa(bits: values[.modulus].map(bitLength) ?? values.ulong(.modulusBits).map { Int($0) } ?? 0)
        case .ec?:
            let params = values[.ecParams] ?? []
            let curve = namedCurves[params]
            kind = .ec(curve: curve?.name ?? "unknown (\(hex(params)))", bits: curve?.bits ?? 256)
        case .ecEdwards?:
            let params = values[.ecParams] ?? []
            // Some modules give the curve as a PrintableString name rather than an OID.
            let name =
                namedCurves[params]?.name
                ?? (params.count > 2 ? String(decoding: params.dropFirst(2), as: UTF8.self) : "Ed25519")
            kind = .edwards(curve: name.lowercased().contains("448") ? "Ed448" : "Ed25519")
        default:
            throw StoreError(
                .failed,
                "key \"\(values.label ?? "")\" is of type \(values.keyType.map(keyTypeName) ?? "unknown"), which CertBridge cannot sign with"
            )
        }
        if values.bool(.sign) == false {
            throw StoreError(.failed, "key \"\(label)\" has CKA_SIGN=false: the token will not sign with it")
        }
        var uri = token.uri
        uri.object = values.label
        uri.id = values.id
        uri.type = .privateKey
        self.uri = uri
    }
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from a token's r‖s, and back.
enum ECDSAEncoding {
    static func der(fromRaw raw: [UInt8]) throws(StoreError) -> [UInt8] {
        guard raw.count % 2 == 0, !raw.isEmpty else {
            throw StoreError(.failed, "the token returned an ECDSA signature of odd length \(raw.count)")
        }
        let half = raw.count / 2
        var body = integer(Array(raw[..<half])) + integer(Array(raw[half...]))
        body = [0x30] + length(body.count) + body
        return body
    }

    static func raw(fromDER der: [UInt8], coordinateLength: Int) throws(StoreError) -> [UInt8] {
        do {
            let node = try DER.parse(der)
            let (r, s) = try DER.sequence(node, identifier: .sequence) { nodes in
                (try ArraySlice<UInt8>(derEncoded: &nodes), try ArraySlice<UInt8>(derEncoded: &nodes))
            }
            return try pad(r, to: coordinateLength) + pad(s, to: coordinateLength)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(
                .failed, "the signature is not a DER ECDSA signature (\(error)); was it made with --format raw?")
        }
    }

    private static func pad(_ value: ArraySlice<UInt8>, to length: Int) throws(StoreError) -> [UInt8] {
        let trimmed = value.drop { $0 == 0 }
        guard trimmed.count <= length else {
            throw StoreError(.failed, "an ECDSA signature value is longer than the curve")
        }
        return [UInt8](repeating: 0, count: length - trimmed.count) + trimmed
    }

    private static func integer(_ bytes: [UInt8]) -> [UInt8] {
        var value = Array(bytes.drop { $0 == 0 })
        if value.isEmpty { value = [0] }
        if value[0] & 0x80 != 0 { value.insert(0, at: 0) }
        return [0x02] + length(value.count) + value
    }

    private static func length(_ count: Int) -> [UInt8] {
        if count < 0x80 { return [UInt8(count)] }
        if count < 0x100 { return [0x81, UInt8(count)] }
        return [0x82, UInt8(count >> 8), UInt8(count & 0xFF)]
    }
}
