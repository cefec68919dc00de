import Crypto
import FoundationEssentials
public import PKCS11
import PKCS12
import SwiftASN1
import X509

/// The outcome of one decryption: which key and how, and the plaintext.
public struct Decryption: Sendable {
    /// A PKCS#11 URI naming the key that decrypted.
    public var key: String
    /// How the content key was recovered, e.g. `RSA PKCS#1 v1.5 key transport (C_Decrypt)`.
    public var keyRecovery: String
    /// The content cipher, e.g. `AES-256-CBC`.
    public var contentCipher: String
    /// For a High key: how the use was approved.
    public var approval: String?
    /// The decrypted content.
    public var plaintext: [UInt8]
}

extension Store {
    /// Decrypts CMS enveloped data (DER, PEM or S/MIME, as `openssl cms -encrypt` writes it)
    /// with the private key a URI names. The content key is recovered on the token — C_Decrypt
    /// for RSA key transport, C_DeriveKey (CKM_ECDH1_DERIVE) for EC key agreement — and the
    /// content is decrypted here in memory. A High key is approved once, for this use.
    public func decrypt(
        _ file: [UInt8], with uri: PKCS11URI, pin: PINProvider?, keyPassword: @escaping KeyPasswordProvider,
        attempts: Int = 1
    ) throws(StoreError) -> Decryption {
        let envelope = try CMSEnvelope.read(file)
        let key = try privateKey(uri, pin: pin)
        let use = try KeyUse(key: key, keyPassword: keyPassword, attempts: attempts)
        let candidates = try recipients(in: envelope, for: use)
        var lastError: StoreError?
        for candidate in candidates {
            do throws(StoreError) {
                var contentKey = try recoverContentKey(candidate, use: use)
                defer { wipe(&contentKey) }
                let cipher = ContentCipher.name(forOID: envelope.contentAlgorithm) ?? envelope.contentAlgorithm
                let plaintext: [UInt8]
                do throws(PKCS12Error) {
                    plaintext = try ContentCipher.decrypt(
                        oid: envelope.contentAlgorithm, key: contentKey, iv: envelope.iv,
                        ciphertext: envelope.encryptedContent, tag: envelope.tag,
                        additionalData: envelope.authenticatedAttributes)
                } catch {
                    throw StoreError(error.code == .unsupportedAlgorithm ? .failed : .failed, error.reason)
                }
                return Decryption(
                    key: use.uri.description, keyRecovery: candidate.description, contentCipher: cipher,
                    approval: use.approval, plaintext: plaintext)
            } catch {
                if error.code == .wrongSecret || error.code == .locked { throw error }
                lastError = error
            }
        }
        throw lastError ?? StoreError(.failed, "no recipient in the file fits key \"\(key.label)\"")
    }

    /// The recipient entries this key can open: those naming its certificate, or, when the key
    /// has no certificate on the token, every entry of the key's kind.
    private func recipients(in envelope: CMSEnvelope, for use: KeyUse) throws(StoreError) -> [RecipientEntry] {
        var fitting: [RecipientEntry] = []
        for recipient in envelope.recipients {
            switch recipient {
            case .keyTransport(let entry) where use.isRSA:
                fitting.append(.keyTransport(entry))
            case .keyAgreement(let entry) where !use.isRSA:
                for (rid, encrypted) in entry.keys { fitting.append(.keyAgreement(entry, rid, encrypted)) }
            default: continue
            }
        }
        guard !fitting.isEmpty else {
            throw StoreError(
                .notFound,
                "the file has no recipient for a \(use.isRSA ? "RSA" : "EC") key (it holds \(envelope.recipients.count) recipient(s) of other kinds)"
            )
        }
        guard let identity = use.certificate else { return fitting }
        let named = fitting.filter { identity.names($0.recipient) }
        guard !named.isEmpty else {
            throw StoreError(
                .notFound, "the file is not encrypted to the certificate of key \"\(use.label)\" (\(identity.subject))")
        }
        return named
    }

    private func recoverContentKey(_ entry: RecipientEntry, use: KeyUse) throws(StoreError) -> [UInt8] {
        switch entry {
        case .keyTransport(let transport):
            let mechanism = try Self.keyTransportMechanism(transport)
            return try use.decrypt(transport.encryptedKey, mechanism: mechanism)
        case .keyAgreement(let agreement, _, let encryptedKey):
            guard let originator = agreement.originatorKey else {
                throw StoreError(
                    .failed,
                    "the sender is named by certificate, not by an ephemeral key: static-static ECDH is not supported")
            }
            guard let hash = Self.kdfHash(agreement.algorithm) else {
                throw StoreError(
                    .failed,
                    "key agreement scheme \(agreement.algorithm) is not supported (dhSinglePass-stdDH/cofactorDH with SHA-1/256/384/512 are)"
                )
            }
            guard let kekLength = Self.wrapKeyLength(agreement.wrapOID) else {
                throw StoreError(
                    .failed, "key wrap \(agreement.wrapOID) is not supported (AES-128/192/256 and 3DES key wrap are)")
            }
            var shared = try use.derive(publicPoint: originator)
            defer { wipe(&shared) }
            var kek = X963KDF.derive(
                secret: shared, sharedInfo: Self.sharedInfo(agreement, kekLength: kekLength), length: kekLength,
                hash: hash)
            defer { wipe(&kek) }
            do {
                if agreement.wrapOID == Self.tripleDESWrap {
                    return try TripleDESKeyWrap.unwrap(encryptedKey, kek: kek)
                }
                let unwrapped = try AES.KeyWrap.unwrap(encryptedKey, using: SymmetricKey(data: kek))
                return unwrapped.withUnsafeBytes { Array($0) }
            } catch {
                throw StoreError(
                    .failed,
                    "the content key does not unwrap with the agreed key: the file is not for this key, or altered")
            }
        }
    }

    static func keyTransportMechanism(_ transport: CMSEnvelope.KeyTransport) throws(StoreError) -> Mechanism {
        switch transport.algorithm {
        case "1.2.840.113549.1.1.1":
            return Mechanism(.rsaPKCS)
        case "1.2.840.113549.1.1.7":
            let (hash, mgf) = try oaepParameters(transport.parameters)
            return .oaep(hash: hash, mgf: mgf)
        default:
            throw StoreError(
                .failed, "key transport \(transport.algorithm) is not supported (rsaEncryption and RSAES-OAEP are)")
        }
    }

    /// RSAES-OAEP-params { [0] hashFunc DEFAULT sha1, [1] maskGenFunc DEFAULT mgf1SHA1, [2] pSourceFunc }.
    static func oaepParameters(_ der: [UInt8]?) throws(StoreError) -> (MechanismType, MaskGeneration) {
        var hash = "1.3.14.3.2.26"
        var mgfHash = "1.3.14.3.2.26"
        if let der {
            do {
                let node = try BER.parse(der)
                guard case .constructed(let fields) = node.content else {
                    throw StoreError(.failed, "OAEP parameters are malformed")
                }
                for field in fields {
                    guard case .constructed(let inner) = field.content, let algorithm = Array(inner).first,
                        case .constructed(let parts) = algorithm.content
                    else { continue }
                    let list = Array(parts)
                    guard let first = list.first else { continue }
                    let oid = try ASN1ObjectIdentifier(derEncoded: first).description
                    switch field.identifier.tagNumber {
                    case 0: hash = oid
                    case 1:
                        guard list.count > 1, case .constructed(let mgfParts) = list[1].content,
                            let h = Array(mgfParts).first
                        else { continue }
                        mgfHash = try ASN1ObjectIdentifier(derEncoded: h).description
                    default:
                        throw StoreError(.failed, "RSA-OAEP with a label is not supported")
                    }
                }
            } catch let error as StoreError {
                throw error
            } catch {
                throw StoreError(.failed, "OAEP parameters are malformed: \(error)")
            }
        }
        let hashes: [String: (MechanismType, MaskGeneration)] = [
            "1.3.14.3.2.26": (.sha1, .mgf1SHA1), "2.16.840.1.101.3.4.2.1": (.sha256, .mgf1SHA256),
            "2.16.840.1.101.3.4.2.2": (.sha384, .mgf1SHA384), "2.16.840.1.101.3.4.2.3": (.sha512, .mgf1SHA512),
        ]
        guard let (mechanism, _) = hashes[hash], let (_, mgf) = hashes[mgfHash] else {
            throw StoreError(.failed, "RSA-OAEP with digest \(hash) / MGF1 digest \(mgfHash) is not supported")
        }
        return (mechanism, mgf)
    }

    /// The digest of an RFC 5753 / SEC 1 single-pass ECDH scheme's X9.63 KDF.
    static func kdfHash(_ scheme: String) -> X963KDF.Hash? {
        switch scheme {
        case "1.3.133.16.840.63.0.2", "1.3.133.16.840.63.0.3": .sha1
        case "1.3.132.1.11.1", "1.3.132.1.14.1": .sha256
        case "1.3.132.1.11.2", "1.3.132.1.14.2": .sha384
        case "1.3.132.1.11.3", "1.3.132.1.14.3": .sha512
        default: nil
        }
    }

    /// id-alg-CMS3DESwrap (RFC 3217), what openssl uses with its default 3DES content cipher.
    static let tripleDESWrap = "1.2.840.113549.1.9.16.3.6"

    static func wrapKeyLength(_ oid: String) -> Int? {
        switch oid {
        case tripleDESWrap: 24
        case "2.16.840.1.101.3.4.1.5": 16
        case "2.16.840.1.101.3.4.1.25": 24
        case "2.16.840.1.101.3.4.1.45": 32
        default: nil
        }
    }

    /// ECC-CMS-SharedInfo { keyInfo, [0] entityUInfo (the ukm) OPTIONAL, [2] suppPubInfo (KEK bits) }.
    static func sharedInfo(_ agreement: CMSEnvelope.KeyAgreement, kekLength: Int) -> [UInt8] {
        var body = agreement.wrapAlgorithm
        if let ukm = agreement.userKeyingMaterial { body += DERBytes.tagged(0xA0, DERBytes.tagged(0x04, ukm)) }
        let bits = UInt32(kekLength * 8)
        body += DERBytes.tagged(
            0xA2,
            DERBytes.tagged(
                0x04, [UInt8(bits >> 24), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits & 0xFF)]))
        return DERBytes.tagged(0x30, body)
    }
}

/// One recipient entry the key may open.
enum RecipientEntry: CustomStringConvertible {
    case keyTransport(CMSEnvelope.KeyTransport)
    case keyAgreement(CMSEnvelope.KeyAgreement, CMSEnvelope.RecipientIdentifier, [UInt8])

    var recipient: CMSEnvelope.RecipientIdentifier {
        switch self {
        case .keyTransport(let entry): entry.recipient
        case .keyAgreement(_, let rid, _): rid
        }
    }

    var description: String {
        switch self {
        case .keyTransport(let entry):
            entry.algorithm == "1.2.840.113549.1.1.7"
                ? "RSA-OAEP key transport (C_Decrypt)" : "RSA PKCS#1 v1.5 key transport (C_Decrypt)"
        case .keyAgreement(let entry, _, _):
            "ECDH key agreement (C_DeriveKey CKM_ECDH1_DERIVE), X9.63 KDF with \(Store.kdfHash(entry.algorithm)?.rawValue ?? "?"), \(entry.wrapOID == Store.tripleDESWrap ? "3DES" : "AES-\((Store.wrapKeyLength(entry.wrapOID) ?? 0) * 8)") key wrap"
        }
    }
}

/// The few DER encodings built by hand here.
enum DERBytes {
    static func tagged(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        let count = content.count
        let length: [UInt8] =
            count < 0x80
            ? [UInt8(count)]
            : count < 0x100 ? [0x81, UInt8(count)] : [0x82, UInt8(count >> 8), UInt8(count & 0xFF)]
        return [tag] + length + content
    }
}
