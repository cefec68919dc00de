import FoundationEssentials
public import PKCS11
import SwiftASN1
import X509

/// The key types `enroll new` offers.
public enum KeySpec: String, Sendable, Codable, CaseIterable {
    case rsa2048 = "rsa:2048"
    case rsa3072 = "rsa:3072"
    case rsa4096 = "rsa:4096"
    case p256 = "ec:p256"
    case p384 = "ec:p384"
    case p521 = "ec:p521"

    var curve: [UInt8]? {
        switch self {
        case .p256: [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        case .p384: [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]
        case .p521: [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23]
        default: nil
        }
    }

    var rsaBits: UInt? {
        switch self {
        case .rsa2048: 2048
        case .rsa3072: 3072
        case .rsa4096: 4096
        default: nil
        }
    }
}

/// What CertBridge records on the token beside an enrollment key pair while it waits for its
/// certificate: a CKO_DATA object (application "CertBridge enrollment") holding this as JSON,
/// so the pending state survives across runs and machines.
public struct EnrollmentRecord: Sendable, Codable, Hashable {
    /// The record format's version.
    public var version = 1
    /// CKA_ID of the key pair, hex.
    public var id: String
    /// The key pair's label.
    public var label: String
    /// The key type and size asked for.
    public var keySpec: KeySpec
    /// The subject requested in the CSR.
    public var subject: String
    /// The subjectAltNames requested, as given (`DNS:…`, `IP:…`).
    public var subjectAlternativeNames: [String]
    /// When the key pair was made.
    public var created: Date
    /// What the key pair is for; nil in records made before usages existed (signing).
    public var usage: KeyUsage?
}

/// A pending enrollment key pair, as `enroll list` shows it.
public struct PendingEnrollment: Sendable, Codable {
    /// The label of the token holding the key pair.
    public var token: String
    /// A PKCS#11 URI naming the private key.
    public var uri: String
    /// What was recorded when the pair was made.
    public var record: EnrollmentRecord
    /// Whether the token reports the key exportable (so it can be backed up).
    public var exportable: Bool
    /// The key's security level, as the token reports it.
    public var securityLevel: SecurityLevel
}

/// What `install-cert` did.
public struct InstallResult: Sendable, Codable {
    /// The label of the token the certificate went to.
    public var token: String
    /// The key pair's label, which the certificate now shares.
    public var label: String
    /// The shared CKA_ID, hex.
    public var id: String
    /// False when the certificate was on the token already (reported, not duplicated).
    public var installed: Bool
    /// Chain certificates written as authority certificates.
    public var chainAdded: Int
    /// Chain certificates that were on the token already.
    public var chainAlreadyPresent: Int
    /// A placeholder certificate (from a restored enrollment backup) was removed.
    public var placeholderRemoved = false
}

extension Store {
    static let enrollmentApplication = "CertBridge enrollment"

    /// Generates an enrollment key pair on the token (CKA_LOCAL: the private key never existed
    /// anywhere else), non-exportable unless asked, with CKA_ID = SHA-1 of the public key, and
    /// records it as pending. Either all of it is written or none, a kill included: the write
    /// is journalled (ImportJournal.swift) before the key pair is made.
    public func generateEnrollmentKeyPair(
        on token: Token, spec: KeySpec, label: String, subject: String, subjectAlternativeNames: [String],
        exportable: Bool, securityLevel: SecurityLevel, pin: PINProvider?,
        usage: KeyUsage = .signing, ownPassword: borrowing PIN? = nil
    ) throws(StoreError) -> KeyHandle {
        // A High key's own password (the software token's CKA_CERTBRIDGE_KEY_PASSWORD), as import sets it.
        var passwordAttribute: [Attribute] = []
        defer { for i in passwordAttribute.indices { passwordAttribute[i].wipe() } }
        switch ownPassword {
        case .none: break
        case .some(let ownPassword):
            guard securityLevel == .high, token.hasKeyPasswords else {
                throw StoreError(
                    .usage,
                    "a key password of its own goes with --security-level high on a token with per-key passwords (the software token); \"\(token.info.label)\" approves High keys with the token PIN"
                )
            }
            ownPassword.withUnsafeBytes { passwordAttribute = [Attribute(.certBridgeKeyPassword, bytes: Array($0))] }
        }
        let session = try session(on: token, readWrite: true, pin: pin)
        let journal = try ImportJournal(operation: "enroll new of \"\(label)\"", token: token, session: session)
        var created: [Object] = []
        do {
            let temporaryID = try session.generateRandom(count: 20)
            let common = [
                Attribute(.token, true), Attribute(.label, string: label), Attribute(.id, bytes: temporaryID),
            ]
            var privateTemplate =
                common + [
                    Attribute(.private, true), Attribute(.sign, true), Attribute(.sensitive, true),
                    Attribute(.extractable, exportable),
                ]
            var publicTemplate = common + [Attribute(.private, false), Attribute(.verify, true)]
            let mechanism: Mechanism
            // An encryption key signs once, its own request (proof of possession); CKA_SIGN is
            // taken away after that (restrictToUsage).
            let encryption = usage == .encryption
            if let bits = spec.rsaBits {
                mechanism = Mechanism(.rsaPKCSKeyPairGen)
                publicTemplate += [
                    Attribute(.modulusBits, ulong: bits), Attribute(.publicExponent, bytes: [1, 0, 1]),
                    Attribute(.encrypt, encryption), Attribute(.wrap, encryption),
                ]
                privateTemplate += [
                    Attribute(.decrypt, encryption), Attribute(.unwrap, encryption), Attribute(.derive, false),
                ]
            } else {
                mechanism = Mechanism(.ecKeyPairGen)
                publicTemplate.append(Attribute(.ecParams, bytes: spec.curve ?? []))
                privateTemplate += [
                    Attribute(.derive, encryption), Attribute(.decrypt, false), Attribute(.unwrap, false),
                ]
            }
            if securityLevel.alwaysAuthenticates { privateTemplate.append(Attribute(.alwaysAuthenticate, true)) }
            if securityLevel.alwaysAuthenticates && token.isSoftToken {
                privateTemplate.append(Attribute(.certBridgeApproval, ulong: securityLevel.approvalValue))
            }
            privateTemplate += passwordAttribute
            // The pair goes by its random temporary id until it has its own.
            try journal.expect("private key \"\(label)\"", template: [Attribute(.privateKey)] + privateTemplate)
            try journal.expect("public key \"\(label)\"", template: [Attribute(.publicKey)] + publicTemplate)
            let (publicKey, privateKey) = try session.generateKeyPair(
                mechanism, publicTemplate: publicTemplate, privateTemplate: privateTemplate)
            created = [privateKey, publicKey]

            let values = try publicKey.attributes([.modulus, .ecPoint])
            let id = KeyMaterial.id(
                publicKey: [
                    values[.modulus].map { Attribute(.modulus, bytes: $0) },
                    values[.ecPoint].map { Attribute(.ecPoint, bytes: $0) },
                ].compactMap { $0 })
            let withID = { (template: [Attribute]) in template.map { $0.type == .id ? Attribute(.id, bytes: id) : $0 } }
            try journal.expect("private key \"\(label)\"", template: withID([Attribute(.privateKey)] + privateTemplate))
            try journal.expect("public key \"\(label)\"", template: withID([Attribute(.publicKey)] + publicTemplate))
            for object in created { try session.setAttributes([Attribute(.id, bytes: id)], of: object) }

            let record = EnrollmentRecord(
                id: hex(id), label: label, keySpec: spec, subject: subject,
                subjectAlternativeNames: subjectAlternativeNames, created: Date(), usage: usage)
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = .sortedKeys
            let json = (try? encoder.encode(record)).map { [UInt8]($0) } ?? []
            let recordTemplate = [
                Attribute(.data), Attribute(.token, true), Attribute(.private, false), Attribute(.label, string: label),
                Attribute(.application, string: Self.enrollmentApplication), Attribute(.value, bytes: json),
            ]
            try journal.expect("enrollment record", template: recordTemplate)
            created.append(try session.createObject(recordTemplate))

            if securityLevel == .medium && !token.isSoftToken {
                let levelRecord = SecurityLevelRecord.template(keyLabel: label, id: id)
                try journal.expect("security level record", template: levelRecord)
                created.append(try session.createObject(levelRecord))
            }
            let flags = KeyFlags(try privateKey.attributes(KeyFlags.attributes))
            if !exportable && flags.isExportable
                || securityLevel.alwaysAuthenticates && flags.alwaysAuthenticate != true
                || !passwordAttribute.isEmpty && flags.ownPassword != true
            {
                throw PKCS11Error(
                    .returned(.templateInconsistent), function: "C_GenerateKeyPair",
                    reason: "the token did not keep the key policy asked for")
            }
            journal.commit()
            return KeyHandle(
                token: token, session: session, object: privateKey, label: label, id: id,
                keyType: spec.rsaBits == nil ? .ec : .rsa, flags: flags)
        } catch {
            for object in created.reversed() { try? object.destroy() }
            journal.undo()
            if let error = error as? StoreError { throw error }
            throw StoreError(
                error as? PKCS11Error
                    ?? PKCS11Error(.returned(.generalError), function: "C_GenerateKeyPair", reason: "\(error)"),
                doing: "generating the key pair on \"\(token.info.label)\"", token: token)
        }
    }

    /// Every pending enrollment key pair on the tokens a URI names (all tokens for nil).
    /// The records are public objects, so a token is logged in to only when it holds some (the
    /// key's flags need the login). Searching several tokens, one whose PIN is not given or is
    /// refused is skipped and returned in `refused`, so the caller can say the list may be
    /// incomplete; a token the URI names alone is not skipped: its failure is thrown.
    public func pendingEnrollments(matching uri: PKCS11URI?, pin: PINProvider?) throws(StoreError) -> (
        pending: [PendingEnrollment], refused: [StoreError]
    ) {
        let candidates = tokens(matching: uri).filter { $0.info.flags.contains(.tokenInitialized) }
        let holding =
            candidates.count == 1
            ? candidates
            : candidates.filter { token in
                guard let session = try? token.openSession(readWrite: false) else { return true }
                return (try? enrollmentRecords(in: session).isEmpty) != true
            }
        // A search stays a search when it narrows to one token: that token was not named.
        let (sessions, refused) = try searchSessions(holding, pin: pin, search: candidates.count > 1)
        var pending: [PendingEnrollment] = []
        for (token, session) in sessions {
            do throws(PKCS11Error) {
                for (record, _) in try enrollmentRecords(in: session) {
                    var keyURI = token.uri
                    keyURI.object = record.label
                    keyURI.id = bytes(fromHex: record.id)
                    keyURI.type = .privateKey
                    let key = try session.findObjects([
                        Attribute(.privateKey), Attribute(.id, bytes: bytes(fromHex: record.id)),
                    ]).first
                    let flags = try key.map { (key) throws(PKCS11Error) in
                        KeyFlags(try key.attributes(KeyFlags.attributes))
                    }
                    var level = flags?.securityLevel ?? .standard
                    if let flags,
                        SecurityLevelRecord.isMedium(
                            flags, keyLabel: record.label, idHex: record.id, session: session, token: token)
                    {
                        level = .medium
                    }
                    pending.append(
                        PendingEnrollment(
                            token: token.info.label, uri: keyURI.description, record: record,
                            exportable: flags?.isExportable ?? false, securityLevel: level))
                }
            } catch {
                throw StoreError(error, doing: "reading enrollment records on \"\(token.info.label)\"", token: token)
            }
        }
        return (pending, refused)
    }

    func enrollmentRecords(in session: Session) throws(PKCS11Error) -> [(EnrollmentRecord, Object)] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var records: [(EnrollmentRecord, Object)] = []
        for object in try session.findObjects([
            Attribute(.data), Attribute(.application, string: Self.enrollmentApplication),
        ]) {
            guard let value = try object.attributes([.value])[.value],
                let record = try? decoder.decode(EnrollmentRecord.self, from: Data(value))
            else { continue }
            records.append((record, object))
        }
        return records
    }

    /// Attaches an issued certificate to the key pair it certifies, on whichever token holds it:
    /// same CKA_ID and label as the key, the chain as authority certificates, and the pair no
    /// longer pending. A certificate already present is reported, not duplicated.
    public func installCertificate(_ der: [UInt8], chain: [[UInt8]], on uri: PKCS11URI?, pin: PINProvider?)
        throws(StoreError) -> InstallResult
    {
        let certificate = try CertificateObject(der: der)
        let candidates = tokens(matching: uri).filter { $0.info.flags.contains(.tokenInitialized) }
        // Public key objects are readable without a login: where one matches, only that token
        // is logged in to, so a PIN meant for it is never tried (and counted) on the others.
        let withPublicKey = candidates.filter { token in
            guard let session = try? token.openSession(readWrite: false) else { return false }
            return (try? hasPublicKey(certifiedBy: certificate, in: session)) == true
        }
        // Searching several tokens, one that will not let us in (no PIN given for it, another
        // PIN, a locked PIN) must not hide the key pair on the next: it is skipped, and named.
        let searchList = withPublicKey.isEmpty ? candidates : withPublicKey
        let (sessions, refused) = try searchSessions(
            searchList, readWrite: true, pin: pin, search: candidates.count > 1)
        var searched: [String] = []
        for (token, session) in sessions {
            searched.append("\"\(token.info.label)\"")
            do {
                guard let (key, id) = try keyPair(certifiedBy: certificate, in: session) else { continue }
                let label = try key.attributes([.label]).label ?? certificate.commonName ?? "certificate"
                var created: [Object] = []
                var result = InstallResult(
                    token: token.info.label, label: label, id: hex(id), installed: false, chainAdded: 0,
                    chainAlreadyPresent: 0)
                let journal = try ImportJournal(
                    operation: "install-cert of \"\(label)\"", token: token, session: session)
                var replacing = false
                do {
                    if try session.findObjects([Attribute(.certificate), Attribute(.value, bytes: der)]).isEmpty {
                        let template = try certificate.template(label: label, id: id, category: .tokenUser)
                        try journal.expect("certificate \"\(label)\"", template: template)
                        created.append(try session.createObject(template))
                        result.installed = true
                    }
                    for authority in chain {
                        if try !session.findObjects([Attribute(.certificate), Attribute(.value, bytes: authority)])
                            .isEmpty
                        {
                            result.chainAlreadyPresent += 1
                            continue
                        }
                        let ca = try CertificateObject(der: authority)
                        let template = try ca.template(
                            label: ca.commonName ?? "CA certificate", id: ca.keyID, category: .authority)
                        try journal.expect("chain certificate", template: template)
                        created.append(try session.createObject(template))
                        result.chainAdded += 1
                    }
                    // What the certificate replaces: the pending record, and the placeholder a
                    // restored enrollment backup brought along (not left beside it under the same id).
                    var replaced = try enrollmentRecords(in: session).filter { $0.0.id == hex(id) }.map(\.1)
                    for object in try session.findObjects([Attribute(.certificate), Attribute(.id, bytes: id)]) {
                        guard let value = try object.attributes([.value])[.value], value != der,
                            isPlaceholderCertificate(value)
                        else { continue }
                        replaced.append(object)
                        result.placeholderRemoved = true
                    }
                    if !replaced.isEmpty {
                        try journal.finishing(removing: replaced)
                        replacing = true
                        for object in replaced { try object.destroy() }
                    }
                } catch {
                    // Once the replaced objects are going, the next command finishes the job.
                    if !replacing {
                        for object in created.reversed() { try? object.destroy() }
                        journal.undo()
                    }
                    throw error
                }
                journal.commit()
                return result
            } catch let error as StoreError {
                throw error
            } catch let error as PKCS11Error {
                throw StoreError(error, doing: "installing the certificate on \"\(token.info.label)\"", token: token)
            } catch {
                throw StoreError(.failed, "installing the certificate failed: \(error)")
            }
        }
        if !withPublicKey.isEmpty, searched.isEmpty, let reasons = refused.notSearched {
            // The key pair is there, found by its public key, but its token was not logged in to.
            throw StoreError(
                refused.searchCode,
                "the key pair for \"\(certificate.certificate.subject)\" is on "
                    + withPublicKey.map { "\"\($0.info.label)\"" }.joined(separator: ", ") + "; " + reasons)
        }
        var notFound =
            "no key pair on \(searched.isEmpty ? "any token searched" : searched.joined(separator: ", ")) matches the certificate \"\(certificate.certificate.subject)\""
        if let reasons = refused.notSearched { notFound += "; " + reasons }
        // Nothing matches: 5, unless a PIN was refused on a token that may hold it (4, 6).
        let refusal = refused.first { [.wrongSecret, .locked].contains($0.code) }
        throw StoreError(refusal.map { _ in refused.searchCode } ?? .notFound, notFound)
    }

    /// A public key object for the certificate's key, found without logging in.
    private func hasPublicKey(certifiedBy certificate: CertificateObject, in session: Session) throws(PKCS11Error)
        -> Bool
    {
        if try !session.findObjects([Attribute(.publicKey), Attribute(.id, bytes: certificate.keyID)]).isEmpty {
            return true
        }
        return try !session.findObjects([Attribute(.publicKey)] + certificate.publicKeyAttributes).isEmpty
    }

    /// The private key whose public key the certificate certifies, and the CKA_ID it goes by.
    /// First by the id CertBridge gives keys (a hash of the public key); then, for key pairs
    /// made by other tools with other ids, by the public key itself: a public key object with
    /// the same modulus or point, or an RSA private key with the same modulus.
    private func keyPair(certifiedBy certificate: CertificateObject, in session: Session) throws(PKCS11Error) -> (
        Object, [UInt8]
    )? {
        let hashID = certificate.keyID
        if let key = try session.findObjects([Attribute(.privateKey), Attribute(.id, bytes: hashID)]).first {
            return (key, hashID)
        }
        let publicKey = certificate.publicKeyAttributes
        for candidate in try session.findObjects([Attribute(.publicKey)] + publicKey) {
            guard let id = try candidate.attributes([.id]).id, !id.isEmpty else { continue }
            if let key = try session.findObjects([Attribute(.privateKey), Attribute(.id, bytes: id)]).first {
                return (key, id)
            }
        }
        if publicKey.contains(where: { $0.type == .modulus }),
            let key = try session.findObjects([Attribute(.privateKey)] + publicKey).first
        {
            return (key, try key.attributes([.id]).id ?? [])
        }
        return nil
    }
}

/// Certificates from a file: one DER certificate, or any number of PEM ones.
public func readCertificates(_ bytes: [UInt8]) throws(StoreError) -> [[UInt8]] {
    if let text = String(validating: bytes, as: UTF8.self), text.contains("-----BEGIN") {
        do {
            return try PEMDocument.parseMultiple(pemString: text).filter { $0.discriminator == "CERTIFICATE" }.map(
                \.derBytes)
        } catch {
            throw StoreError(.failed, "the PEM certificate file could not be read: \(error)")
        }
    }
    guard (try? CertificateObject(der: bytes)) != nil else {
        throw StoreError(.failed, "the file is neither a PEM nor a DER certificate")
    }
    return [bytes]
}

func bytes(fromHex hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = hex.makeIterator()
    while let high = chars.next(), let low = chars.next(), let byte = UInt8(String([high, low]), radix: 16) {
        out.append(byte)
    }
    return out
}

extension Store {
    /// After an encryption key pair signed its request: CKA_SIGN=false on the private key, so
    /// the token refuses signatures with it from now on. False when the token keeps CKA_SIGN
    /// read-only (the certificate's keyUsage still makes `sign` refuse).
    public func restrictToUsage(_ key: KeyHandle, _ usage: KeyUsage) throws(StoreError) -> Bool {
        guard usage == .encryption else { return true }
        do throws(PKCS11Error) {
            try key.session.setAttributes([Attribute(.sign, false)], of: key.object)
            return try key.object.attributes([.sign]).bool(.sign) == false
        } catch  where [ReturnValue.attributeReadOnly, .actionProhibited].contains(error.returnValue) {
            return false
        } catch {
            throw StoreError(error, doing: "taking the signing use away from \"\(key.label)\"", token: key.token)
        }
    }

    /// Removes an enrollment key pair and its pending record (when its request could not be made).
    public func removeEnrollment(_ key: KeyHandle) throws(StoreError) {
        do throws(PKCS11Error) {
            let session = key.session
            for objectClass in [ObjectClass.privateKey, .publicKey] {
                for object in try session.findObjects([Attribute(objectClass), Attribute(.id, bytes: key.id)]) {
                    try object.destroy()
                }
            }
            for (record, object) in try enrollmentRecords(in: session) where record.id == hex(key.id) {
                try object.destroy()
            }
        } catch {
            throw StoreError(error, doing: "removing the unfinished key pair \"\(key.label)\"", token: key.token)
        }
    }
}
