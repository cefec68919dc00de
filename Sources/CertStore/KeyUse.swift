internal import PKCS11
import SwiftASN1
import X509

/// One private key used for decryption: C_Decrypt or C_DeriveKey in its logged-in session, with
/// the key's own approval (C_Login(CKU_CONTEXT_SPECIFIC)) for a High key, asked once per use.
final class KeyUse {
    let handle: KeyHandle
    let description: KeyDescription
    /// The key's certificate on the token (same CKA_ID), to pick the recipient entry.
    let certificate: RecipientCertificate?
    private let keyPassword: KeyPasswordProvider
    private let attempts: Int
    /// For a High key, how the last use was approved.
    private(set) var approval: String?

    var label: String { handle.label }
    var uri: PKCS11URI { description.uri }
    var isRSA: Bool { if case .rsa = description.kind { true } else { false } }
    private var token: Token { handle.token }
    private var session: Session { handle.session }

    init(key: KeyHandle, keyPassword: @escaping KeyPasswordProvider, attempts: Int) throws(StoreError) {
        handle = key
        self.keyPassword = keyPassword
        self.attempts = max(1, attempts)
        let values: AttributeValues
        var certificateDER: [UInt8]?
        do throws(PKCS11Error) {
            values = try key.object.attributes([
                .keyType, .modulus, .modulusBits, .ecParams, .decrypt, .derive, .unwrap,
            ])
            if !key.id.isEmpty,
                let certificate = try key.session.findObjects([Attribute(.certificate), Attribute(.id, bytes: key.id)])
                    .first
            {
                certificateDER = try certificate.attributes([.value])[.value]
            }
        } catch {
            throw StoreError(error, doing: "reading key \"\(key.label)\"", token: key.token)
        }
        let kind: KeyKind
        switch values.keyType {
        case .rsa?:
            kind = .rsa(bits: values[.modulus].map(bitLength) ?? values.ulong(.modulusBits).map { Int($0) } ?? 0)
            if values.bool(.decrypt) == false {
                throw StoreError(
                    .usage,
                    "key \"\(key.label)\" has CKA_DECRYPT=false: the token will not decrypt with it (is it a signing key?)"
                )
            }
        case .ec?:
            let curve = namedCurves[values[.ecParams] ?? []]
            kind = .ec(curve: curve?.name ?? "unknown", bits: curve?.bits ?? 256)
            if values.bool(.derive) == false {
                throw StoreError(
                    .usage,
                    "key \"\(key.label)\" has CKA_DERIVE=false: the token will not do key agreement with it (is it a signing key?)"
                )
            }
        default:
            throw StoreError(
                .usage,
                "key \"\(key.label)\" is not an RSA or EC key: CertBridge decrypts with RSA key transport and EC key agreement only"
            )
        }
        var uri = key.token.uri
        uri.object = key.label
        uri.id = key.id
        uri.type = .privateKey
        description = KeyDescription(label: key.label, id: key.id, kind: kind, flags: key.flags, uri: uri)
        certificate = certificateDER.flatMap { try? RecipientCertificate(der: $0) }
    }

    /// C_DecryptInit → [C_Login(CKU_CONTEXT_SPECIFIC)] → C_Decrypt.
    func decrypt(_ data: [UInt8], mechanism: Mechanism) throws(StoreError) -> [UInt8] {
        let doing = "decrypting the content key with \"\(label)\""
        do throws(PKCS11Error) {
            try session.decryptInit(mechanism, key: handle.object)
        } catch
            where [.mechanismInvalid, .mechanismParamInvalid, .argumentsBad].contains(error.returnValue)
        {
            // SoftHSM2 2.6 answers CKR_ARGUMENTS_BAD to OAEP with any digest but SHA-1.
            throw StoreError(
                .failed,
                "token \"\(token.info.label)\" does not decrypt with \(mechanism.type.name)"
                    + (mechanism.type == .rsaPKCSOAEP
                        ? " and this OAEP digest (the sender's choice; SHA-1 is what most tokens do)" : "")
                    + " (\(error))")
        } catch {
            throw StoreError(error, doing: doing, token: token)
        }
        if description.securityLevel == .high {
            try approve { () throws(PKCS11Error) in try self.session.decryptInit(mechanism, key: self.handle.object) }
            approval = "approved with the key's own login for this decryption (CKU_CONTEXT_SPECIFIC)"
        }
        do throws(PKCS11Error) {
            return try session.decrypt(data)
        } catch {
            throw StoreError(error, doing: doing, token: token)
        }
    }

    /// C_DeriveKey(CKM_ECDH1_DERIVE) into a session-only generic secret, read and destroyed:
    /// the ECDH shared secret Z. PKCS#11 ties the per-use login to sign and decrypt only; a
    /// token that asks it for derivation too (CKR_USER_NOT_LOGGED_IN) gets it.
    func derive(publicPoint: [UInt8]) throws(StoreError) -> [UInt8] {
        let doing = "agreeing the content key with \"\(label)\" (ECDH)"
        let template = [
            Attribute(.secretKey), Attribute(.genericSecret), Attribute(.token, false), Attribute(.private, true),
            Attribute(.sensitive, false), Attribute(.extractable, true),
        ]
        func once() throws(PKCS11Error) -> [UInt8] {
            let secret = try session.deriveECDH(key: handle.object, publicData: publicPoint, template: template)
            defer { try? secret.destroy() }
            guard var value = try secret.attributes([.value])[.value] else {
                throw PKCS11Error(
                    .returned(.attributeSensitive), function: "C_GetAttributeValue",
                    reason: "the token kept the ECDH secret sensitive")
            }
            defer { wipe(&value) }
            return value
        }
        do throws(PKCS11Error) {
            return try once()
        } catch  where description.securityLevel == .high && error.returnValue == .userNotLoggedIn {
            try approve { () throws(PKCS11Error) in }
            approval = "approved with the key's own login for this key agreement (CKU_CONTEXT_SPECIFIC)"
            do throws(PKCS11Error) { return try once() } catch { throw StoreError(error, doing: doing, token: token) }
        } catch {
            throw StoreError(error, doing: doing, token: token)
        }
    }

    /// The context login for the operation just started, asking for the key's password; a
    /// wrong password is asked again while tries are left.
    private func approve(restart: () throws(PKCS11Error) -> Void) throws(StoreError) {
        for attempt in 1...attempts {
            let secret: PIN? = try keyPassword(
                KeyPasswordRequest(key: description, tokenLabel: token.info.label, attempt: attempt))
            do throws(PKCS11Error) {
                do throws(PKCS11Error) {
                    try session.login(.contextSpecific, pin: secret)
                } catch  where error.returnValue == .operationNotInitialized {
                    try restart()
                    try session.login(.contextSpecific, pin: secret)
                }
                return
            } catch  where [.pinIncorrect, .pinInvalid, .pinLenRange].contains(error.returnValue) && attempt < attempts
            {
                continue
            } catch {
                throw StoreError(error, doing: "approving the use of key \"\(label)\"", token: token)
            }
        }
    }
}

/// What names a certificate in a CMS recipient entry.
struct RecipientCertificate {
    let issuer: [UInt8]
    let serial: [UInt8]
    let subjectKeyIdentifier: [UInt8]?
    let subject: String

    init(der: [UInt8]) throws {
        let certificate = try Certificate(derEncoded: der)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate.issuer)
        issuer = serializer.serializedBytes
        serial = Array(certificate.serialNumber.bytes)
        subjectKeyIdentifier = (try? certificate.extensions.subjectKeyIdentifier).flatMap {
            $0.map { Array($0.keyIdentifier) }
        }
        subject = certificate.subject.description
    }

    func names(_ recipient: CMSEnvelope.RecipientIdentifier) -> Bool {
        switch recipient {
        case .issuerAndSerial(let issuer, let serial):
            return issuer == self.issuer && serial.drop { $0 == 0 } == self.serial.drop { $0 == 0 }
        case .subjectKeyIdentifier(let identifier):
            return identifier == subjectKeyIdentifier
        }
    }
}
