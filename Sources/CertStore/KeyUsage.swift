public import PKCS11
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
    /// What a private key is for: encryption when the token will not sign with it, when its
    /// enrollment record says so, or when its certificate allows key encipherment or agreement
    /// but not signatures; signing otherwise.
    public func usage(of uri: PKCS11URI, pin: PINProvider?) throws(StoreError) -> KeyUsage {
        let key = try privateKey(uri, pin: pin)
        do throws(PKCS11Error) {
            if try key.object.attributes([.sign]).bool(.sign) == false { return .encryption }
        } catch {
            throw StoreError(error, doing: "reading key \"\(key.label)\"", token: key.token)
        }
        let (usage, recorded) = try publicUsage(id: key.id, token: key.token)
        if recorded == .encryption { return .encryption }
        if let usage, !usage.allowsSigning, usage.keyEncipherment || usage.keyAgreement { return .encryption }
        return .signing
    }

    /// The one sentence `sign` refuses with when the key is for encryption: its certificate's
    /// keyUsage has neither digitalSignature nor nonRepudiation, or its enrollment record says
    /// encryption. Read from public objects only: no second login.
    public func signingRefusal(for key: KeyDescription) throws(StoreError) -> String? {
        let token = try token(matching: key.uri)
        let (usage, recorded) = try publicUsage(id: key.id, token: token)
        if let usage, !usage.allowsSigning {
            return
                "the certificate of key \"\(key.label)\" does not allow signing (its keyUsage is \(usage.names)); it is an encryption key: use `certbridge decrypt`"
        }
        if recorded == .encryption {
            return
                "key \"\(key.label)\" was made for encryption (enroll new --usage encryption), not for signing: use `certbridge decrypt`"
        }
        return nil
    }

    /// The keyUsage of the certificate with the key's CKA_ID, and the usage its enrollment
    /// record names: both public objects, read without a login.
    private func publicUsage(id: [UInt8], token: Token) throws(StoreError) -> (X509.KeyUsage?, KeyUsage?) {
        guard !id.isEmpty else { return (nil, nil) }
        let session = try session(on: token, pin: nil)
        do throws(PKCS11Error) {
            let der = try session.findObjects([Attribute(.certificate), Attribute(.id, bytes: id)]).first?.attributes([
                .value
            ])[.value]
            let recorded = try enrollmentRecords(in: session).first { $0.0.id == hex(id) }?.0.usage
            let usage = der.flatMap { try? Certificate(derEncoded: $0) }.flatMap { try? $0.extensions.keyUsage }
            return (usage, recorded)
        } catch {
            throw StoreError(error, doing: "reading the certificate and record of a key", token: token)
        }
    }
}

extension X509.KeyUsage {
    var allowsSigning: Bool { digitalSignature || nonRepudiation }

    var names: String {
        let all: [(Bool, String)] = [
            (digitalSignature, "digitalSignature"), (nonRepudiation, "nonRepudiation"),
            (keyEncipherment, "keyEncipherment"), (dataEncipherment, "dataEncipherment"),
            (keyAgreement, "keyAgreement"), (keyCertSign, "keyCertSign"), (cRLSign, "cRLSign"),
        ]
        let set = all.filter(\.0).map(\.1)
        return set.isEmpty ? "empty" : set.joined(separator: ", ")
    }
}
