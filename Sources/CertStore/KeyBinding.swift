import Crypto
internal import PKCS11
import X509

import enum PKCS12.PublicKeyInfo

/// A public key found on a token for the key a URI names: where it came from ("certificate" or
/// "public key object"), the CKA_ID that ties it to its key, and that private key when the
/// session can see it.
struct FoundPublicKey {
    let key: TokenPublicKey
    let source: String
    let id: [UInt8]
    let privateKey: Object?
}

extension Store {
    /// What a key object may show of its public half: PKCS#11 3.0's CKA_PUBLIC_KEY_INFO, RSA's
    /// CKA_MODULUS and CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS with CKA_EC_POINT.
    static let publicHalfAttributes: [AttributeType] = [
        .keyType, .publicKeyInfo, .modulus, .publicExponent, .ecParams, .ecPoint,
    ]

    /// Refuses a certificate's or public key object's key that is not the public half of the
    /// private key with its CKA_ID. A public object can be replaced by anyone who can write to
    /// the token (a SoftHSM2 C_CreateObject, a changed file): the private key is what the user
    /// put there, so it decides. Its public half is read from the key object's public attributes
    /// (`publicHalfAttributes`); where the token hides them (EC and EdDSA keys on SoftHSM2), a
    /// certificate is compared with the public key object of that id instead. Nothing is signed:
    /// a check by signature would cost a High or Medium key an approval.
    func confirm(_ found: FoundPublicKey, belongsTo privateKey: Object, in session: Session, token: Token)
        throws(StoreError)
    {
        let values: AttributeValues
        var publicObject: Object?
        do throws(PKCS11Error) {
            values = try privateKey.attributes(Self.publicHalfAttributes + [.label])
            if found.source == "certificate", !found.id.isEmpty {
                publicObject = try session.findObjects([Attribute(.publicKey), Attribute(.id, bytes: found.id)]).first
            }
        } catch {
            throw StoreError(
                error, doing: "reading the public half of the private key with id \(hex(found.id))", token: token)
        }
        let label = values.label ?? ""
        let own: TokenPublicKey
        let checkedWith: String
        if let half = try Self.publicHalf(values, of: "the private key \"\(label)\"") {
            own = half
            checkedWith = "the private key \"\(label)\""
        } else if let publicObject {
            own = try Self.publicKey(of: publicObject)
            checkedWith = "the public key object of the private key \"\(label)\""
        } else if found.source == "public key object" {
            return  // the token shows no other public half to hold it against
        } else {
            throw StoreError(
                .failed,
                "the \(found.source) with id \(hex(found.id)) on \"\(token.info.label)\" cannot be checked: the token shows neither the public half of the private key \"\(label)\" nor a public key object with that id; not verifying with it"
            )
        }
        guard own.isSameKey(as: found.key) else {
            throw StoreError(
                .failed,
                "the \(found.source) with id \(hex(found.id)) on \"\(token.info.label)\" does not hold the public key of \(checkedWith) with that id: it was replaced or does not belong there; not verifying with it"
            )
        }
    }

    /// The public key a key object's attributes describe, or nil when they do not give it.
    /// - Parameter what: names the object in the error when what it gives does not parse.
    static func publicHalf(_ values: AttributeValues, of what: String) throws(StoreError) -> TokenPublicKey? {
        do {
            if let spki = values[.publicKeyInfo], !spki.isEmpty { return try TokenPublicKey(spki: spki) }
            switch values.keyType {
            case .rsa?:
                guard let n = values[.modulus], !n.isEmpty, let e = values[.publicExponent], !e.isEmpty else {
                    return nil
                }
                return try TokenPublicKey(spki: try PublicKeyInfo.rsa(modulus: n, publicExponent: e))
            case .ec?, .ecEdwards?:
                guard let point = values[.ecPoint], !point.isEmpty, let parameters = values[.ecParams] else {
                    return nil
                }
                if values.keyType == .ecEdwards {
                    return try TokenPublicKey(spki: try PublicKeyInfo.edwards(parameters: parameters, point: point))
                }
                return try TokenPublicKey(spki: try PublicKeyInfo.ec(parameters: parameters, point: point))
            default:
                return nil
            }
        } catch {
            throw StoreError(.failed, "the public half of \(what) does not parse: \(error)")
        }
    }
}

extension TokenPublicKey {
    /// Whether two public keys are the same key: compared in swift-certificates' canonical
    /// encoding where it reads them (so an explicit NULL or a compressed point does not differ),
    /// else by their SubjectPublicKeyInfo bytes (Ed448).
    func isSameKey(as other: TokenPublicKey) -> Bool {
        if let mine = certificateKey, let theirs = other.certificateKey {
            return mine.subjectPublicKeyInfoBytes == theirs.subjectPublicKeyInfoBytes
        }
        return spki == other.spki
    }
}
