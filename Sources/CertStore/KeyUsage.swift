import PKCS11
import X509

/// What an enrollment key pair is for: signing, or encryption (RSA key transport, EC key
/// agreement). It decides the request's keyUsage and the key's CKA_SIGN/CKA_DECRYPT/CKA_DERIVE.
public enum KeyUsage: String, Sendable, Codable, CaseIterable {
    case signing, encryption

    /// The keyUsage extension a request for this use asks for: digitalSignature and
    /// nonRepudiation for signing; keyEncipherment (RSA) or keyAgreement (EC) for encryption.
    func requestedExtension(rsa: Bool) -> X509.KeyUsage {
        switch self {
        case .signing: X509.KeyUsage(digitalSignature: true, nonRepudiation: true)
        case .encryption: rsa ? X509.KeyUsage(keyEncipherment: true) : X509.KeyUsage(keyAgreement: true)
        }
    }
}

extension Store {
    /// What a private key is for, from its flags and its certificate's keyUsage: encryption
    /// when the token will not sign with it, or when its certificate allows key encipherment or
    /// agreement but not signatures; signing otherwise.
    public func usage(of uri: PKCS11URI, pin: PINProvider?) throws(StoreError) -> KeyUsage {
        let key = try privateKey(uri, pin: pin)
        do throws(PKCS11Error) {
            if try key.object.attributes([.sign]).bool(.sign) == false { return .encryption }
        } catch {
            throw StoreError(error, doing: "reading key \"\(key.label)\"", token: key.token)
        }
        if let usage = try certificateKeyUsage(of: key), !usage.allowsSigning, usage.keyEncipherment || usage.keyAgreement {
            return .encryption
        }
        return .signing
    }

    /// The one sentence `sign` refuses with when the key's certificate does not allow
    /// signatures (keyUsage without digitalSignature and nonRepudiation); nil when it does, or
    /// when there is no certificate or no keyUsage.
    public func signingRefusal(for uri: PKCS11URI, pin: PINProvider?) throws(StoreError) -> String? {
        let key = try privateKey(uri, pin: pin)
        guard let usage = try certificateKeyUsage(of: key), !usage.allowsSigning else { return nil }
        return "the certificate of key \"\(key.label)\" does not allow signing (its keyUsage is \(usage.names)); it is an encryption key: use `certbridge decrypt`"
    }

    /// The keyUsage of the certificate beside the key (same CKA_ID), if both exist.
    private func certificateKeyUsage(of key: KeyHandle) throws(StoreError) -> X509.KeyUsage? {
        guard !key.id.isEmpty else { return nil }
        let der: [UInt8]?
        do throws(PKCS11Error) {
            der = try key.session.findObjects([Attribute(.certificate), Attribute(.id, bytes: key.id)]).first?.attributes([.value])[.value]
        } catch {
            throw StoreError(error, doing: "reading the certificate of \"\(key.label)\"", token: key.token)
        }
        guard let der, let certificate = try? Certificate(derEncoded: der) else { return nil }
        return try? certificate.extensions.keyUsage
    }
}

extension X509.KeyUsage {
    var allowsSigning: Bool { digitalSignature || nonRepudiation }

    var names: String {
        let all: [(Bool, String)] = [(digitalSignature, "digitalSignature"), (nonRepudiation, "nonRepudiation"),
                                     (keyEncipherment, "keyEncipherment"), (dataEncipherment, "dataEncipherment"),
                                     (keyAgreement, "keyAgreement"), (keyCertSign, "keyCertSign"), (cRLSign, "cRLSign")]
        let set = all.filter(\.0).map(\.1)
        return set.isEmpty ? "empty" : set.joined(separator: ", ")
    }
}
