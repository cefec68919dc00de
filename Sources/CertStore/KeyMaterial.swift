import Crypto
internal import PKCS11
import SwiftASN1

/// A private key in the form PKCS#11's C_CreateObject takes it: its raw components, as
/// attributes. They are wiped when the value is released. (Swift arrays are copy-on-write: a
/// copy someone still holds at that moment is theirs to wipe; templates made from this value are
/// copied into a buffer that the PKCS11 layer wipes after the call.)
public final class KeyMaterial: @unchecked Sendable {
    // @unchecked: immutable after init except for the wipe in deinit.

    /// CKK_RSA, CKK_EC or CKK_EC_EDWARDS.
    let keyType: KeyType
    private var attributes: [Attribute]

    /// An RSA key from its CRT components (big-endian, no leading zeros needed).
    public init(
        rsaModulus modulus: [UInt8], publicExponent: [UInt8], privateExponent: [UInt8],
        prime1: [UInt8], prime2: [UInt8], exponent1: [UInt8], exponent2: [UInt8], coefficient: [UInt8]
    ) {
        keyType = .rsa
        attributes = [
            Attribute(.modulus, bytes: modulus), Attribute(.publicExponent, bytes: publicExponent),
            Attribute(.privateExponent, bytes: privateExponent), Attribute(.prime1, bytes: prime1),
            Attribute(.prime2, bytes: prime2), Attribute(.exponent1, bytes: exponent1),
            Attribute(.exponent2, bytes: exponent2), Attribute(.coefficient, bytes: coefficient),
        ]
    }

    /// An EC key: `parameters` is the curve as DER (CKA_EC_PARAMS), `value` the private scalar,
    /// `point` the public point as a DER OCTET STRING (CKA_EC_POINT).
    public init(ecParameters parameters: [UInt8], value: [UInt8], point: [UInt8]) {
        keyType = .ec
        attributes = [
            Attribute(.ecParams, bytes: parameters), Attribute(.value, bytes: value), Attribute(.ecPoint, bytes: point),
        ]
    }

    /// An Edwards key (Ed25519, Ed448) as CKK_EC_EDWARDS: `parameters` is the curve's OID as
    /// DER (CKA_EC_PARAMS), `value` the raw private key, `point` the raw public key in a DER
    /// OCTET STRING (CKA_EC_POINT).
    public init(edwardsParameters parameters: [UInt8], value: [UInt8], point: [UInt8]) {
        keyType = .ecEdwards
        attributes = [
            Attribute(.ecParams, bytes: parameters), Attribute(.value, bytes: value), Attribute(.ecPoint, bytes: point),
        ]
    }

    deinit {
        for i in attributes.indices { attributes[i].wipe() }
    }

    private func attribute(_ type: AttributeType) -> Attribute? { attributes.first { $0.type == type } }

    /// The attributes that identify the public key (for matching an existing key or certificate,
    /// and for the public key object).
    var publicKeyAttributes: [Attribute] {
        let types: [AttributeType] = keyType == .rsa ? [.modulus, .publicExponent] : [.ecParams, .ecPoint]
        return types.compactMap(attribute)
    }

    /// The private-key object's key attributes (CKA_EC_POINT is not one of them).
    var privateAttributes: [Attribute] { attributes.filter { $0.type != .ecPoint } }

    /// The CKA_ID CertBridge gives a key: SHA-1 of the public key (the RSA modulus, or the EC
    /// point's bytes), the convention OpenSC and NSS follow, so other tools pair them too.
    public var id: [UInt8] { Self.id(publicKey: publicKeyAttributes) }

    static func id(publicKey: [Attribute]) -> [UInt8] {
        let keyBytes = publicKey.first { $0.type == .modulus || $0.type == .ecPoint }?.value ?? []
        return Array(Insecure.SHA1.hash(data: unwrapOctetString(keyBytes)))
    }
}

/// The contents of an OCTET STRING that is the whole of `bytes` (CKA_EC_POINT is one; some
/// tokens give the bare point instead), or the bytes as they are.
func unwrapOctetString(_ bytes: [UInt8]) -> [UInt8] {
    guard bytes.first == 0x04, let octets = try? ASN1OctetString(berEncoded: bytes) else { return bytes }
    return Array(octets.bytes)
}
