import FoundationEssentials
import SwiftASN1

/// A CMS EnvelopedData or AuthEnvelopedData (RFC 5652 §6, RFC 5083) as `openssl cms -encrypt`
/// writes it, read into what decryption needs. A pure function of the bytes: no token, no
/// OpenSSL. BER (indefinite lengths, constructed OCTET STRINGs) is accepted; nesting is bounded
/// by the ASN.1 parser's depth limit.
public struct CMSEnvelope: Sendable, Hashable {
    /// Which certificate a recipient entry is for (RFC 5652 RecipientIdentifier).
    public enum RecipientIdentifier: Sendable, Hashable {
        /// The issuer's Name (DER) and the serial number's content octets.
        case issuerAndSerial(issuer: [UInt8], serial: [UInt8])
        /// The certificate's subjectKeyIdentifier.
        case subjectKeyIdentifier([UInt8])
    }

    /// KeyTransRecipientInfo: the content key encrypted to an RSA public key.
    public struct KeyTransport: Sendable, Hashable {
        /// The recipient's certificate.
        public var recipient: RecipientIdentifier
        /// keyEncryptionAlgorithm: rsaEncryption (PKCS#1 v1.5) or id-RSAES-OAEP.
        public var algorithm: String
        /// The algorithm's parameters (DER), nil when absent.
        public var parameters: [UInt8]?
        /// The encrypted content key.
        public var encryptedKey: [UInt8]
    }

    /// KeyAgreeRecipientInfo (RFC 5753): ECDH with the originator's ephemeral key, a KDF, and a
    /// key wrap of the content key.
    public struct KeyAgreement: Sendable, Hashable {
        /// The originator's ephemeral public point (uncompressed), nil when the originator is
        /// named by certificate rather than by key.
        public var originatorKey: [UInt8]?
        /// The user keying material, when the sender gave some.
        public var userKeyingMaterial: [UInt8]?
        /// keyEncryptionAlgorithm: the key agreement scheme, e.g. dhSinglePass-stdDH-sha256kdf-scheme.
        public var algorithm: String
        /// The key wrap AlgorithmIdentifier (DER), as the scheme's parameter carries it.
        public var wrapAlgorithm: [UInt8]
        /// The key wrap algorithm's OID, e.g. id-aes256-wrap.
        public var wrapOID: String
        /// One encrypted content key per recipient certificate.
        public var keys: [(recipient: RecipientIdentifier, encryptedKey: [UInt8])]

        /// Equal by every field.
        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.originatorKey == rhs.originatorKey && lhs.userKeyingMaterial == rhs.userKeyingMaterial
                && lhs.algorithm == rhs.algorithm && lhs.wrapAlgorithm == rhs.wrapAlgorithm
                && lhs.keys.map(\.recipient) == rhs.keys.map(\.recipient)
                && lhs.keys.map(\.encryptedKey) == rhs.keys.map(\.encryptedKey)
        }

        /// Hashes the fields that tell entries apart.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(originatorKey)
            hasher.combine(algorithm)
            hasher.combine(keys.map(\.encryptedKey))
        }
    }

    /// One RecipientInfo.
    public enum Recipient: Sendable, Hashable {
        /// ktri.
        case keyTransport(KeyTransport)
        /// kari.
        case keyAgreement(KeyAgreement)
        /// kekri, pwri or ori (by their context tag): not for a token key.
        case other(tag: UInt)
    }

    /// True for AuthEnvelopedData (AES-GCM), false for EnvelopedData.
    public var authenticated: Bool
    /// Every recipient, in file order.
    public var recipients: [Recipient]
    /// The content type inside, usually id-data.
    public var contentType: String
    /// contentEncryptionAlgorithm's OID.
    public var contentAlgorithm: String
    /// The CBC IV, or the GCM nonce.
    public var iv: [UInt8]
    /// The encrypted content.
    public var encryptedContent: [UInt8]
    /// AuthEnvelopedData's MAC (the GCM tag).
    public var tag: [UInt8]?
    /// AuthEnvelopedData's authAttrs as the MAC covers them (DER, SET OF tag), empty when absent.
    public var authenticatedAttributes: [UInt8]

    static let envelopedData = "1.2.840.113549.1.7.3"
    static let authEnvelopedData = "1.2.840.113549.1.9.16.1.23"

    /// Parses a BER or DER ContentInfo holding EnvelopedData or AuthEnvelopedData.
    public static func parse(der: [UInt8]) throws(StoreError) -> CMSEnvelope {
        do {
            return try parseNodes(BER.parse(der))
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.failed, "the file is not CMS enveloped data: \(error)")
        }
    }

    /// Reads a file as `openssl cms -encrypt` writes it: DER, PEM (`-----BEGIN CMS-----` or
    /// PKCS7) or S/MIME (application/pkcs7-mime, base64).
    public static func read(_ file: [UInt8]) throws(StoreError) -> CMSEnvelope {
        try parse(der: unwrapTransport(file))
    }

    /// The DER inside a PEM or S/MIME file; the bytes themselves otherwise.
    static func unwrapTransport(_ file: [UInt8]) throws(StoreError) -> [UInt8] {
        guard let first = file.first, first != 0x30, let text = String(validating: file, as: UTF8.self) else {
            return file
        }
        var body: Substring
        if let begin = text.firstRange(of: "-----BEGIN ") {
            let afterHeader = text[begin.upperBound...].drop { $0 != "\n" }
            guard let end = afterHeader.firstRange(of: "-----END ") else {
                throw StoreError(.failed, "the PEM file has no END line")
            }
            body = afterHeader[..<end.lowerBound]
        } else if text.lowercased().contains("pkcs7-mime") {
            let normalized = text.replacing("\r\n", with: "\n")
            guard let blank = normalized.firstRange(of: "\n\n") else {
                throw StoreError(.failed, "the S/MIME message has no body")
            }
            body = normalized[blank.upperBound...]
            if let boundary = body.firstRange(of: "\n--") { body = body[..<boundary.lowerBound] }
        } else {
            throw StoreError(.failed, "the file is neither DER, PEM nor S/MIME enveloped data")
        }
        let base64 = body.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: String(base64)) else {
            throw StoreError(.failed, "the file's base64 body does not decode")
        }
        return [UInt8](data)
    }

    private static func parseNodes(_ root: ASN1Node) throws -> CMSEnvelope {
        let info = try children(root, "ContentInfo")
        guard info.count == 2 else { throw malformed("ContentInfo") }
        let type = try oid(info[0])
        guard type == envelopedData || type == authEnvelopedData else {
            throw StoreError(
                .failed,
                "the CMS content is \(type), not enveloped data (\(envelopedData)) or AES-GCM enveloped data (\(authEnvelopedData))"
            )
        }
        let explicit = try children(info[1], "content", tag: 0)
        guard explicit.count == 1 else { throw malformed("content") }
        let authenticated = type == authEnvelopedData
        var fields = try children(explicit[0], "EnvelopedData")[...]
        guard fields.count >= 3 else { throw malformed("EnvelopedData") }
        fields.removeFirst()  // version
        if fields.first?.identifier == context(0) { fields.removeFirst() }  // originatorInfo
        guard let recipientSet = fields.popFirst(), recipientSet.identifier == .set else {
            throw malformed("recipientInfos")
        }
        let recipients = try children(recipientSet, "recipientInfos").map(recipient)
        guard let contentInfo = fields.popFirst() else { throw malformed("encryptedContentInfo") }
        let content = try children(contentInfo, "EncryptedContentInfo")
        guard content.count >= 2 else { throw malformed("EncryptedContentInfo") }
        let contentType = try oid(content[0])
        let (algorithm, parameters) = try algorithmIdentifier(content[1])
        guard content.count == 3, content[2].identifier == context(0) else {
            throw StoreError(.failed, "the enveloped data is detached (no encrypted content inside)")
        }
        let encrypted = try octets(content[2])
        var iv: [UInt8] = []
        if let parameters {
            if parameters.identifier == .octetString {
                iv = try octets(parameters)
            } else if parameters.identifier == .sequence, let nonce = try children(parameters, "GCMParameters").first {
                iv = try octets(nonce)
            }
        }
        var tag: [UInt8]?
        var authenticatedAttributes: [UInt8] = []
        if authenticated {
            if fields.first?.identifier == context(1), let attributes = fields.popFirst() {
                authenticatedAttributes = [0x31] + attributes.encodedBytes.dropFirst()
            }
            guard let mac = fields.popFirst(), mac.identifier == .octetString else { throw malformed("mac") }
            tag = try octets(mac)
        }
        return CMSEnvelope(
            authenticated: authenticated, recipients: recipients, contentType: contentType,
            contentAlgorithm: algorithm, iv: iv, encryptedContent: encrypted, tag: tag,
            authenticatedAttributes: authenticatedAttributes)
    }

    private static func recipient(_ node: ASN1Node) throws -> Recipient {
        if node.identifier == .sequence {
            let fields = try children(node, "KeyTransRecipientInfo")
            guard fields.count == 4 else { throw malformed("KeyTransRecipientInfo") }
            let (algorithm, parameters) = try algorithmIdentifier(fields[2])
            return .keyTransport(
                KeyTransport(
                    recipient: try recipientIdentifier(fields[1]), algorithm: algorithm,
                    parameters: parameters.map { Array($0.encodedBytes) },
                    encryptedKey: try octets(fields[3])))
        }
        guard node.identifier.tagClass == .contextSpecific else { throw malformed("RecipientInfo") }
        guard node.identifier.tagNumber == 1 else { return .other(tag: node.identifier.tagNumber) }
        var fields = try children(node, "KeyAgreeRecipientInfo")[...]
        guard fields.count >= 4 else { throw malformed("KeyAgreeRecipientInfo") }
        fields.removeFirst()  // version
        guard let originatorField = fields.popFirst(), originatorField.identifier == context(0),
            let originator = try children(originatorField, "originator").first
        else { throw malformed("originator") }
        var originatorKey: [UInt8]?
        if originator.identifier == context(1) {
            let key = try children(originator, "OriginatorPublicKey")
            guard key.count == 2, key[1].identifier == .bitString else { throw malformed("OriginatorPublicKey") }
            let bits = try octets(key[1])
            guard bits.first == 0 else { throw malformed("OriginatorPublicKey") }
            originatorKey = Array(bits.dropFirst())
        }
        var ukm: [UInt8]?
        if fields.first?.identifier == context(1), let field = fields.popFirst() {
            guard let inner = try children(field, "ukm").first else { throw malformed("ukm") }
            ukm = try octets(inner)
        }
        guard let algorithmField = fields.popFirst() else { throw malformed("keyEncryptionAlgorithm") }
        let (algorithm, parameters) = try algorithmIdentifier(algorithmField)
        guard let parameters, parameters.identifier == .sequence else { throw malformed("key wrap algorithm") }
        let (wrapOID, _) = try algorithmIdentifier(parameters)
        guard let keysField = fields.popFirst() else { throw malformed("recipientEncryptedKeys") }
        var keys: [(recipient: RecipientIdentifier, encryptedKey: [UInt8])] = []
        for entry in try children(keysField, "recipientEncryptedKeys") {
            let parts = try children(entry, "RecipientEncryptedKey")
            guard parts.count == 2 else { throw malformed("RecipientEncryptedKey") }
            var rid = parts[0]
            if rid.identifier == context(0) {
                // rKeyId [0] IMPLICIT RecipientKeyIdentifier { subjectKeyIdentifier, date?, other? }
                guard let ski = try children(rid, "RecipientKeyIdentifier").first else { throw malformed("rKeyId") }
                rid = ski
                keys.append((.subjectKeyIdentifier(try octets(rid)), try octets(parts[1])))
            } else {
                keys.append((try recipientIdentifier(rid), try octets(parts[1])))
            }
        }
        return .keyAgreement(
            KeyAgreement(
                originatorKey: originatorKey, userKeyingMaterial: ukm, algorithm: algorithm,
                wrapAlgorithm: Array(parameters.encodedBytes), wrapOID: wrapOID, keys: keys))
    }

    private static func recipientIdentifier(_ node: ASN1Node) throws -> RecipientIdentifier {
        if node.identifier == context(0) { return .subjectKeyIdentifier(try octets(node)) }
        let parts = try children(node, "IssuerAndSerialNumber")
        guard parts.count == 2, parts[0].identifier == .sequence, parts[1].identifier == .integer,
            case .primitive(let serial) = parts[1].content
        else { throw malformed("IssuerAndSerialNumber") }
        return .issuerAndSerial(issuer: Array(parts[0].encodedBytes), serial: Array(serial))
    }

    // MARK: Node helpers

    private static func context(_ number: UInt) -> ASN1Identifier {
        ASN1Identifier(tagWithNumber: number, tagClass: .contextSpecific)
    }

    private static func malformed(_ what: String) -> StoreError {
        StoreError(.failed, "the CMS enveloped data is malformed (\(what))")
    }

    private static func children(_ node: ASN1Node, _ what: String, tag: UInt? = nil) throws -> [ASN1Node] {
        if let tag, node.identifier != context(tag) { throw malformed(what) }
        guard case .constructed(let nodes) = node.content else { throw malformed(what) }
        return Array(nodes)
    }

    private static func oid(_ node: ASN1Node) throws -> String {
        guard node.identifier == .objectIdentifier else { throw malformed("object identifier") }
        return try ASN1ObjectIdentifier(derEncoded: node).description
    }

    /// The octets of a primitive string, or of a BER constructed one (its pieces joined).
    private static func octets(_ node: ASN1Node) throws -> [UInt8] {
        switch node.content {
        case .primitive(let bytes): return Array(bytes)
        case .constructed(let pieces): return try pieces.flatMap { try octets($0) }
        }
    }

    private static func algorithmIdentifier(_ node: ASN1Node) throws -> (String, ASN1Node?) {
        let parts = try children(node, "AlgorithmIdentifier")
        guard let first = parts.first else { throw malformed("AlgorithmIdentifier") }
        let parameters = parts.count > 1 && parts[1].identifier != .null ? parts[1] : nil
        return (try oid(first), parameters)
    }
}
