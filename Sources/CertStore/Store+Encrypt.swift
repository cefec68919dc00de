public import PKCS11
import PKCS12

/// The content ciphers `certbridge encrypt` offers, by the names OpenSSL gives them.
public enum EnvelopeCipher: String, Sendable, CaseIterable {
    case aes128CBC = "aes-128-cbc"
    case aes192CBC = "aes-192-cbc"
    case aes256CBC = "aes-256-cbc"
    case aes128GCM = "aes-128-gcm"
    case aes256GCM = "aes-256-gcm"
    case tripleDES = "des-ede3-cbc"
}

/// RSA key-transport padding for `certbridge encrypt`.
public enum KeyTransportPadding: String, Sendable, CaseIterable {
    /// PKCS#1 v1.5, `openssl cms -encrypt`'s default.
    case pkcs1
    /// RSAES-OAEP with SHA-1 (`-keyopt rsa_padding_mode:oaep`).
    case oaep
}

extension Store {
    /// CMS EnvelopedData (AuthEnvelopedData for GCM) of `content` for every certificate given
    /// (DER): what `openssl cms -decrypt` and `certbridge decrypt` read. Only public keys are used.
    public static func encrypt(
        _ content: [UInt8], to certificates: [[UInt8]], cipher: EnvelopeCipher = .aes256CBC,
        padding: KeyTransportPadding = .pkcs1
    ) throws(StoreError) -> [UInt8] {
        do throws(PKCS12Error) {
            return try CMSEncryption.encrypt(
                content, to: certificates, cipher: cipher.rawValue,
                rsaPadding: padding == .oaep ? .oaep : .pkcs1)
        } catch {
            throw StoreError(.failed, "encrypting failed: \(error.reason)")
        }
    }

    /// The certificate (DER) a URI names: a certificate object, or the one beside the private
    /// key it names (same CKA_ID). Certificates are public: a login is tried only if needed.
    public func certificate(matching uri: PKCS11URI, pin: PINProvider?) throws(StoreError) -> [UInt8] {
        let token = try token(matching: uri)
        func lookup(_ session: Session) throws(StoreError) -> [UInt8]? {
            do throws(PKCS11Error) {
                var template = [Attribute(.certificate)]
                if let label = uri.object { template.append(Attribute(.label, string: label)) }
                var id = uri.id
                if id == nil, uri.type == .privateKey || uri.type == nil, let label = uri.object,
                    let key = try session.findObjects([Attribute(.privateKey), Attribute(.label, string: label)]).first
                {
                    id = try key.attributes([.id]).id
                }
                if let id { template = [Attribute(.certificate), Attribute(.id, bytes: id)] }
                let found = try session.findObjects(template)
                guard found.count <= 1 else {
                    throw PKCS11Error(
                        .moreThanOne, reason: "\(found.count) certificates match \(uri.description); name one with id=")
                }
                return try found.first?.attributes([.value])[.value]
            } catch {
                throw StoreError(error, doing: "reading the certificate", token: token)
            }
        }
        if let found = try lookup(session(on: token, pin: nil)) { return found }
        if let pin, token.info.flags.contains(.loginRequired), let found = try lookup(session(on: token, pin: pin)) {
            return found
        }
        throw StoreError(.notFound, "no certificate for \(uri.description) on \"\(token.info.label)\"")
    }
}
