public import PKCS11

/// What to place on a token: a key, its certificate and the rest of its certification path.
public struct ImportItem {
    /// The private key's components.
    public let key: KeyMaterial
    /// The certificate of the key (DER).
    public let certificate: [UInt8]
    /// The other certificates of the path, leaf to root (DER).
    public let chain: [[UInt8]]
    /// The PFX friendlyName, if it had one.
    public let friendlyName: String?

    /// An item from a key, its DER certificate, the CA certificates (leaf to root) and a friendlyName.
    public init(key: KeyMaterial, certificate: [UInt8], chain: [[UInt8]], friendlyName: String?) {
        self.key = key
        self.certificate = certificate
        self.chain = chain
        self.friendlyName = friendlyName
    }
}

/// How to place it: the Windows Import Wizard's choices.
public struct ImportOptions: Sendable {
    /// "Mark this key as exportable".
    public var exportable = false
    /// standard, or high for CKA_ALWAYS_AUTHENTICATE.
    public var securityLevel = SecurityLevel.standard
    /// "Include all certificates in the certification path".
    public var includeChain = true
    /// The label for key and certificate; default: the friendlyName, else the subject's CN.
    public var label: String?
    /// Replace a key that is already on the token (same public key).
    public var replace = false
    /// The key's own password, for a High-level key on a token that has per-key passwords (the
    /// CertBridge software token): Windows' "enter and confirm password for this item". Asked
    /// only once the import is sure to write; without it the token PIN approves each use.
    public var keyPassword: NewKeyPassword?

    /// The Import Wizard's defaults: non-exportable, standard, with the chain.
    public init() {}
}

/// Where a new key password comes from, for the token with this label.
public typealias NewKeyPassword = @Sendable (_ tokenLabel: String) throws(StoreError) -> PIN
/// Where an existing key's own password comes from, for the key with this label.
public typealias KeyPasswordSource = @Sendable (_ keyLabel: String) throws(StoreError) -> PIN

/// What an import placed, read back from the token.
public struct ImportResult: Sendable, Codable {
    /// The label of the token imported onto.
    public var token: String
    /// The label given to key and certificate.
    public var label: String
    /// The CKA_ID shared by key, public key and certificate, hex.
    public var id: String
    /// The key, its public key and certificate, and the chain certificates placed, as the token reports them.
    public var objects: [ObjectSummary]
    /// Chain certificates that were on the token already and were left as they were.
    public var chainAlreadyPresent: Int
    /// Key pairs removed because --replace was given.
    public var replaced: Int
    /// Things the token did differently, e.g. a policy placed by its own means.
    public var notes: [String]
    /// Things the user should act on, e.g. a certification path that stops short of its root.
    public var warnings: [String] = []
}

/// A step of an import, named so a test can make one fail.
enum ImportStep: Sendable { case privateKey, publicKey, certificate, chainCertificate, replaceOld }

extension Store {
    /// Places a key, its certificate and its chain on a token in one logged-in session. Either
    /// everything lands, or every object this import created is destroyed again and the error
    /// says what failed. The key policy is verified by reading the flags back: a token that
    /// would hold the key less strictly than asked is refused, never silently accepted.
    public func importItem(_ item: ImportItem, to token: Token, options: ImportOptions, pin: PINProvider?)
        throws(StoreError) -> ImportResult
    {
        try importItem(item, to: token, options: options, pin: pin, fault: nil)
    }

    /// `written` is handed every object created, once the item has landed (for an import of
    /// several items that must roll back the earlier ones when a later one fails); such an
    /// import passes its own `journal`, which it commits itself. Otherwise the item gets a
    /// journal of its own (ImportJournal.swift) before its first write, committed when it has
    /// landed, so a kill at any moment is rolled back by the next command on the token.
    func importItem(
        _ item: ImportItem, to token: Token, options: ImportOptions, pin: PINProvider?,
        fault: ((ImportStep) throws(PKCS11Error) -> Void)?, journal shared: ImportJournal? = nil,
        written: (([Object]) -> Void)? = nil
    ) throws(StoreError) -> ImportResult {
        // Everything that can be checked is checked before the first write.
        let leaf = try CertificateObject(der: item.certificate)
        let label = options.label ?? item.friendlyName ?? leaf.commonName ?? "imported key"
        let id = item.key.id
        guard leaf.keyID == id else {
            throw StoreError(
                .failed, "the certificate \"\(leaf.certificate.subject)\" does not belong to the private key")
        }
        let leafTemplate = try leaf.template(label: label, id: id, category: .tokenUser)
        var chainTemplates: [(der: [UInt8], template: [Attribute])] = []
        for der in options.includeChain ? item.chain : [] {
            let certificate = try CertificateObject(der: der)
            chainTemplates.append(
                (
                    der,
                    try certificate.template(
                        label: certificate.commonName ?? "CA certificate", id: certificate.keyID, category: .authority)
                ))
        }
        let session = try session(on: token, readWrite: true, pin: pin)
        let tokenName = "\"\(token.info.label)\""

        // A key already on the token (same public key) is refused unless --replace.
        var existing: [Object] = []
        do throws(PKCS11Error) {
            let candidates = try session.findObjects(
                [Attribute(.privateKey)] + item.key.publicKeyAttributes.filter { $0.type != .ecPoint })
            for candidate in candidates where try matchesPublicKey(candidate, item.key, session: session) {
                existing.append(candidate)
            }
        } catch {
            throw StoreError(error, doing: "looking for the key on \(tokenName)", token: token)
        }
        if !existing.isEmpty && !options.replace {
            let oldLabel = (try? existing[0].attributes([.label]).label) ?? ""
            throw StoreError(
                .failed, "this key is already on \(tokenName) (label \"\(oldLabel)\"); use --replace to replace it")
        }

        let journal: ImportJournal
        if let shared {
            journal = shared
        } else {
            journal = try ImportJournal(operation: "import of \"\(label)\"", token: token, session: session)
        }
        testPause(afterObject: 0)
        var created: [Object] = []
        var notes: [String] = []
        var chainAlreadyPresent = 0
        var step = ImportStep.privateKey
        var replacing = false
        /// Journals an object, creates it, and (in tests) pauses after it.
        func create(_ what: String, _ template: [Attribute], _ make: () throws -> Object) throws {
            try journal.expect(what, template: template)
            created.append(try make())
            testPause(afterObject: created.count)
        }
        do {
            try fault?(.privateKey)
            try create(
                "private key \"\(label)\"",
                privateKeyTemplate(item, label: label, id: id, subject: leaf.subjectDER, options: options)
            ) {
                try createPrivateKey(
                    item, label: label, id: id, subject: leaf.subjectDER, options: options, session: session,
                    token: token, notes: &notes)
            }
            try verifyPolicy(of: created[0], options: options, tokenName: tokenName)
            if options.securityLevel == .medium && !token.isSoftToken {
                let record = SecurityLevelRecord.template(keyLabel: label, id: id)
                try create("security level record", record) { try session.createObject(record) }
            }
            step = .publicKey
            try fault?(.publicKey)
            let publicKey = publicKeyTemplate(item.key, label: label, id: id, subject: leaf.subjectDER)
            try create("public key \"\(label)\"", publicKey) { try session.createObject(publicKey) }
            step = .certificate
            try fault?(.certificate)
            try create("certificate \"\(label)\"", leafTemplate) { try session.createObject(leafTemplate) }
            step = .chainCertificate
            for certificate in chainTemplates {
                try fault?(.chainCertificate)
                if try !session.findObjects([Attribute(.certificate), Attribute(.value, bytes: certificate.der)])
                    .isEmpty
                {
                    chainAlreadyPresent += 1
                    continue
                }
                try create("chain certificate", certificate.template) { try session.createObject(certificate.template) }
            }
            step = .replaceOld
            try fault?(.replaceOld)
            if !existing.isEmpty {
                var victims: [Object] = []
                for old in existing { victims += try pair(of: old, keeping: created + victims, session: session) }
                try journal.finishing(removing: victims)
                replacing = true
                for victim in victims { try victim.destroy() }
            }
        } catch {
            if replacing {
                // The new key is whole; the journal has the next command finish the removal.
                let reason =
                    (error as? StoreError)?.reason ?? (error as? PKCS11Error).map {
                        StoreError($0, doing: "removing the replaced key from \(tokenName)", token: token).reason
                    } ?? "\(error)"
                throw StoreError(
                    .failed,
                    reason
                        + "; the new key is in place, and the next certbridge command on \(tokenName) removes what is left of the old one"
                )
            }
            let left = rollBack(created, session: session)
            if shared == nil { journal.undo() }
            let tail =
                left.isEmpty
                ? "; nothing was left on the token"
                : "; could not remove \(left.count) object(s) written before the failure: \(left.joined(separator: ", "))"
            if let error = error as? PKCS11Error {
                let reason = StoreError(error, doing: "writing the \(step.noun) to \(tokenName)", token: token).reason
                throw StoreError(StoreError(error, doing: "", token: token).code, reason + tail)
            }
            let storeError = error as? StoreError ?? StoreError(.failed, "\(error)")
            throw StoreError(storeError.code, storeError.reason + tail)
        }
        if shared == nil { journal.commit() }

        written?(created)
        do throws(PKCS11Error) {
            var summaries: [ObjectSummary] = []
            for object in created { summaries.append(try summary(of: object, on: token)) }
            return ImportResult(
                token: token.info.label, label: label, id: hex(id), objects: summaries,
                chainAlreadyPresent: chainAlreadyPresent, replaced: existing.count, notes: notes)
        } catch {
            throw StoreError(error, doing: "reading back the imported objects", token: token)
        }
    }

    /// C_CreateObject for the private key. Where a token refuses CKA_EXTRACTABLE=false in the
    /// template (some PIV modules do: their keys can never leave anyway), retry without it; the
    /// flags read back afterwards decide whether the result is strict enough.
    private func createPrivateKey(
        _ item: ImportItem, label: String, id: [UInt8], subject: [UInt8], options: ImportOptions,
        session: Session, token: Token, notes: inout [String]
    ) throws(StoreError) -> Object {
        var ownPassword: [Attribute] = []
        defer { for i in ownPassword.indices { ownPassword[i].wipe() } }
        if let keyPassword = options.keyPassword, options.securityLevel == .high {
            guard token.hasKeyPasswords else {
                throw StoreError(
                    .usage,
                    "\"\(token.info.label)\" has no per-key passwords: a High-level key there is approved with the token PIN at every use; leave out the key password"
                )
            }
            let password = try keyPassword(token.info.label)
            password.withUnsafeBytes { ownPassword = [Attribute(.certBridgeKeyPassword, bytes: Array($0))] }
        }
        // The software token records which approval a Medium or High key needs.
        let approval =
            token.isSoftToken && options.securityLevel.alwaysAuthenticates
            ? [Attribute(.certBridgeApproval, ulong: options.securityLevel.approvalValue)] : []
        do throws(PKCS11Error) {
            return try createPrivateKey(
                item, label: label, id: id, subject: subject, options: options, session: session,
                extra: ownPassword + approval, notes: &notes)
        } catch {
            throw StoreError(error, doing: "writing the private key to \"\(token.info.label)\"", token: token)
        }
    }

    /// The private key's template without its secret components (what the journal records).
    private func privateKeyTemplate(
        _ item: ImportItem, label: String, id: [UInt8], subject: [UInt8], options: ImportOptions
    ) -> [Attribute] {
        var policy = [Attribute(.sensitive, true), Attribute(.extractable, options.exportable)]
        if options.securityLevel.alwaysAuthenticates { policy.append(Attribute(.alwaysAuthenticate, true)) }
        let publicParts = item.key.privateAttributes.filter {
            [.modulus, .publicExponent, .ecParams].contains($0.type)
        }
        return [
            Attribute(.privateKey), Attribute(item.key.keyType), Attribute(.token, true), Attribute(.private, true),
            Attribute(.label, string: label), Attribute(.id, bytes: id), Attribute(.subject, bytes: subject),
        ] + policy + publicParts
    }

    private func createPrivateKey(
        _ item: ImportItem, label: String, id: [UInt8], subject: [UInt8], options: ImportOptions,
        session: Session, extra: [Attribute], notes: inout [String]
    ) throws(PKCS11Error) -> Object {
        let uses: [Attribute] =
            item.key.keyType == .rsa
            ? [Attribute(.sign, true), Attribute(.decrypt, true), Attribute(.unwrap, false)]
            : item.key.keyType == .ecEdwards
                ? [Attribute(.sign, true)] : [Attribute(.sign, true), Attribute(.derive, true)]
        var policy = [Attribute(.sensitive, true), Attribute(.extractable, options.exportable)]
        if options.securityLevel.alwaysAuthenticates { policy.append(Attribute(.alwaysAuthenticate, true)) }
        let base = [
            Attribute(.privateKey), Attribute(item.key.keyType), Attribute(.token, true), Attribute(.private, true),
            Attribute(.label, string: label), Attribute(.id, bytes: id), Attribute(.subject, bytes: subject),
        ]
        do {
            return try session.createObject(base + uses + policy + extra + item.key.privateAttributes)
        } catch let error
            where !options.exportable
            && [.attributeTypeInvalid, .attributeValueInvalid, .templateInconsistent].contains(error.returnValue)
        {
            let key = try session.createObject(
                base + uses + policy.filter { $0.type != .extractable } + extra + item.key.privateAttributes)
            notes.append(
                "the token refused CKA_EXTRACTABLE in the template (\(error)); the key was placed with the token's own default, checked below"
            )
            return key
        }
    }

    /// Reads the key's flags back and refuses a result weaker than asked.
    private func verifyPolicy(of key: Object, options: ImportOptions, tokenName: String) throws(StoreError) {
        let flags: KeyFlags
        do throws(PKCS11Error) {
            flags = KeyFlags(try key.attributes(KeyFlags.attributes))
        } catch {
            throw StoreError(error, doing: "reading back the key's flags")
        }
        if flags.sensitive == false {
            throw StoreError(
                .failed, "\(tokenName) stored the key with CKA_SENSITIVE=false, which would reveal it; refused")
        }
        if !options.exportable && flags.isExportable {
            throw StoreError(
                .failed,
                "\(tokenName) would keep the key exportable (\(flags.exportabilityReason)) although non-exportable was asked; refused"
            )
        }
        if options.securityLevel.alwaysAuthenticates && flags.alwaysAuthenticate != true {
            throw StoreError(
                .failed,
                "\(tokenName) cannot hold a key at the \(options.securityLevel == .medium ? "Medium" : "High") level: it does not keep CKA_ALWAYS_AUTHENTICATE=true; refused"
            )
        }
        if options.securityLevel == .high && options.keyPassword != nil,
            (try? key.attributes([.certBridgeHasKeyPassword]).bool(.certBridgeHasKeyPassword)) != true
        {
            throw StoreError(.failed, "\(tokenName) did not keep the key's own password; refused")
        }
    }

    private func publicKeyTemplate(_ key: KeyMaterial, label: String, id: [UInt8], subject: [UInt8]) -> [Attribute] {
        let uses: [Attribute] =
            key.keyType == .rsa ? [Attribute(.verify, true), Attribute(.encrypt, true)] : [Attribute(.verify, true)]
        return [
            Attribute(.publicKey), Attribute(key.keyType), Attribute(.token, true), Attribute(.private, false),
            Attribute(.label, string: label), Attribute(.id, bytes: id), Attribute(.subject, bytes: subject),
        ]
            + uses + key.publicKeyAttributes
    }

    private func matchesPublicKey(_ object: Object, _ key: KeyMaterial, session: Session) throws(PKCS11Error) -> Bool {
        if key.keyType == .rsa { return true }  // the search template already held the modulus
        // EC private keys carry no CKA_EC_POINT: compare the id derived from the point instead,
        // and fall back to the public key object with the same point.
        let values = try object.attributes([.id])
        if values.id == key.id { return true }
        let point = key.publicKeyAttributes.filter { $0.type == .ecPoint }
        return try !session.findObjects(
            [Attribute(.publicKey)] + point + (values.id.map { [Attribute(.id, bytes: $0)] } ?? [])
        ).isEmpty
    }

    /// An old key and the public key and certificate that share its id, but for `kept`.
    private func pair(of key: Object, keeping kept: [Object], session: Session) throws(PKCS11Error) -> [Object] {
        let id = try key.attributes([.id]).id ?? []
        var victims = [key]
        if !id.isEmpty {
            for objectClass in [ObjectClass.publicKey, .certificate] {
                victims += try session.findObjects([Attribute(objectClass), Attribute(.id, bytes: id)])
                    .filter { candidate in !(kept + victims).contains { $0.handle == candidate.handle } }
            }
        }
        return victims
    }

    /// Destroys what an import created, newest first; returns what could not be destroyed.
    private func rollBack(_ created: [Object], session: Session) -> [String] {
        var left: [String] = []
        for object in created.reversed() {
            do throws(PKCS11Error) { try object.destroy() } catch {
                left.append("object \(object.handle) (\(error))")
            }
        }
        return left
    }
}

extension ImportStep {
    var noun: String {
        switch self {
        case .privateKey: "private key"
        case .publicKey: "public key"
        case .certificate: "certificate"
        case .chainCertificate: "chain certificate"
        case .replaceOld: "replacement (removing the old key)"
        }
    }
}
