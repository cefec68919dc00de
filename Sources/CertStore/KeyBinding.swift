import Crypto
import PKCS11
import enum PKCS12.PublicKeyInfo
import X509

extension Store {
    /// Refuses a certificate's or public key object's key that is not the public half of the
    /// private key with its CKA_ID. A public object can be replaced by anyone who can write to
    /// the token (a SoftHSM2 C_CreateObject, a changed file): the private key is what the user
    /// put there, so it decides. Its public half is read from the key object where the token
    /// gives it (CKA_PUBLIC_KEY_INFO; RSA's CKA_MODULUS and CKA_PUBLIC_EXPONENT; CKA_EC_POINT);
    /// where the token hides it (EC keys on SoftHSM2 and the software token), the key signs a
    /// random challenge that must verify under the public key found.
    func confirm(_ publicKey: Certificate.PublicKey, source: String, belongsTo privateKey: Object, id: [UInt8],
                 token: Token, pin: PINProvider?, keyPassword: KeyPasswordProvider?) throws(StoreError) {
        let values: AttributeValues
        do throws(PKCS11Error) {
            values = try privateKey.attributes([.label, .keyType, .publicKeyInfo, .modulus, .publicExponent, .ecParams, .ecPoint])
        } catch {
            throw StoreError(error, doing: "reading the private key's public half", token: token)
        }
        let label = values.label ?? ""
        let forged = StoreError(.failed, "the \(source) with id \(hex(id)) on \"\(token.info.label)\" is not the public half of the private key \"\(label)\" with that id: it was replaced or does not belong there; not verifying with it")
        let own: Certificate.PublicKey?
        do {
            if let spki = values[.publicKeyInfo], !spki.isEmpty {
                own = try Self.publicKey(spki: spki)
            } else if values.keyType == .rsa, let n = values[.modulus], let e = values[.publicExponent] {
                own = try Self.publicKey(spki: PublicKeyInfo.rsa(modulus: n, publicExponent: e))
            } else if let parameters = values[.ecParams], let point = values[.ecPoint] {
                own = try Self.publicKey(spki: PublicKeyInfo.ec(parameters: parameters, point: point))
            } else {
                own = nil
            }
        } catch {
            throw StoreError(.failed, "the public half of the private key \"\(label)\" does not parse: \(error)")
        }
        if let own {
            guard own.subjectPublicKeyInfoBytes == publicKey.subjectPublicKeyInfoBytes else { throw forged }
            return
        }
        guard try provesPossession(of: publicKey, id: id, token: token, pin: pin, keyPassword: keyPassword) else { throw forged }
    }

    /// Signs a random challenge with the private key with `id` and checks it under `publicKey`.
    /// A High key's use is approved through `keyPassword` (else the PIN's source), as `sign` does.
    private func provesPossession(of publicKey: Certificate.PublicKey, id: [UInt8], token: Token,
                                  pin: PINProvider?, keyPassword: KeyPasswordProvider?) throws(StoreError) -> Bool {
        let noPIN: PINProvider = { token throws(StoreError) in
            throw StoreError(.usage, "a PIN is needed to check the key on \"\(token.info.label)\"")
        }
        let pin = pin ?? noPIN
        var uri = token.uri
        uri.id = id
        uri.type = .privateKey
        let approve: KeyPasswordProvider
        if let keyPassword {
            approve = keyPassword
        } else {
            approve = { _ throws(StoreError) in try pin(token) }
        }
        let signer = try Signer(store: self, key: uri, pin: pin, keyPassword: approve)
        let challenge = Array(SystemRandomNumberGenerator.bytes(32))
        let algorithm = signer.key.kind.defaultAlgorithm
        let signature = try signer.sign(challenge, algorithm: algorithm, format: .der)
        return try SignatureVerification.isValid(signature, of: challenge, algorithm: algorithm, format: .der, publicKey: publicKey)
    }
}

extension SystemRandomNumberGenerator {
    /// `count` random bytes from the system's generator.
    static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
