import PKCS11

extension Store {
    /// How to get a token PIN when a login is needed. Called at most once per operation.
    public typealias PINProvider = (_ token: Token) throws(StoreError) -> PIN

    /// Opens a session on the token, logged in as the user when `pin` is given and the token
    /// wants a login. A wrong PIN is a `wrongSecret` error with the tries left where known.
    /// Before the session is handed out, an import a killed process left half-done on the token
    /// is rolled back (Store+Recovery.swift), so what the caller sees is whole.
    public func session(on token: Token, readWrite: Bool = false, pin: PINProvider?) throws(StoreError) -> Session {
        let session = try loggedInSession(on: token, readWrite: readWrite, pin: pin)
        recoverInterruptedWrites(on: token)
        return session
    }

    private func loggedInSession(on token: Token, readWrite: Bool, pin: PINProvider?) throws(StoreError) -> Session {
        let session: Session
        do throws(PKCS11Error) {
            session = try token.openSession(readWrite: readWrite)
        } catch {
            throw StoreError(error, doing: "opening a session on \"\(token.info.label)\"", token: token)
        }
        guard let pin, token.info.flags.contains(.loginRequired) else { return session }
        if (try? session.state().isUserLoggedIn) == true { return session }
        // CertBridge's software token offers the protected path for programs that cannot ask
        // (it then runs a pinentry); the store has its PIN source and uses it.
        let usesPINPad = token.info.flags.contains(.protectedAuthenticationPath) && !token.isSoftToken
        let secret: PIN? = usesPINPad ? nil : try pin(token)
        do throws(PKCS11Error) {
            try session.login(.user, pin: secret)
        } catch where error.returnValue == .userAlreadyLoggedIn {
            return session
        } catch {
            throw StoreError(error, doing: "logging in to \"\(token.info.label)\"", token: token)
        }
        return session
    }

    /// Every object on every token the URI names (all tokens for nil), as the tokens report them.
    /// Over several tokens, one whose PIN is not given or is refused is skipped and returned.
    public func objects(matching uri: PKCS11URI?, pin: PINProvider?) throws(StoreError) -> (objects: [ObjectSummary], skipped: [StoreError]) {
        var summaries: [ObjectSummary] = []
        // A slot with no token initialized (the software token keeps one for C_InitToken) holds nothing.
        let tokens = tokens(matching: uri).filter { $0.info.flags.contains(.tokenInitialized) }
        if let uri, uri.token != nil || uri.serial != nil, tokens.isEmpty {
            _ = try token(matching: uri)  // throws the "no token matches" error with the list
        }
        let (sessions, skipped) = try searchSessions(tokens, pin: pin, search: tokens.count > 1)
        for (token, session) in sessions {
            summaries += try objects(in: session, token: token, template: uri?.objectTemplate ?? [])
            integrityFailures += integrityFailures(in: session, token: token)
        }
        return (summaries, skipped)
    }

    static let summaryAttributes: [AttributeType] = [.class, .label, .id, .keyType, .modulus, .modulusBits, .ecParams, .valueLen, .certificateCategory,
                                                         .sign, .decrypt, .unwrap, .derive] + KeyFlags.attributes

    func objects(in session: Session, token: Token, template: [Attribute]) throws(StoreError) -> [ObjectSummary] {
        do throws(PKCS11Error) {
            let found = try session.findObjects(template)
            var summaries: [ObjectSummary] = []
            summaries.reserveCapacity(found.count)
            for object in found {
                summaries.append(try summary(of: object, on: token))
            }
            pair(&summaries)
            if !token.isSoftToken { readRecordedLevels(&summaries, session: session) }
            return summaries
        } catch {
            throw StoreError(error, doing: "listing objects on \"\(token.info.label)\"", token: token)
        }
    }

    func summary(of object: Object, on token: Token) throws(PKCS11Error) -> ObjectSummary {
        let values = try object.attributes(Self.summaryAttributes)
        let objectClass = values.objectClass
        var uri = token.uri
        uri.object = values.label
        uri.id = values.id
        uri.type = PKCS11URI.ObjectType.allCases.first { $0.objectClass == objectClass }
        var summary = ObjectSummary(uri: uri.description, class: className(objectClass), label: values.label ?? "",
                                    id: hex(values.id ?? []))
        switch objectClass {
        case .privateKey?, .publicKey?, .secretKey?:
            let keyType = values.keyType
            summary.keyType = keyType.map(keyTypeName)
            if keyType == .rsa {
                summary.keyBits = values[.modulus].map(bitLength) ?? values.ulong(.modulusBits).map { Int($0) }
            } else if let params = values[.ecParams] {
                let curve = namedCurves[params]
                summary.curve = curve?.name ?? "unknown (\(hex(params)))"
                summary.keyBits = curve?.bits
            } else if let length = values.ulong(.valueLen) {
                summary.keyBits = Int(length) * 8
            }
            if objectClass != .publicKey {
                let flags = KeyFlags(values)
                summary.flags = flags
                summary.verdict = flags.isExportable ? "exportable" : "non-exportable"
                summary.verdictReason = flags.exportabilityReason
                summary.securityLevel = flags.securityLevel
                if objectClass == .privateKey {
                    summary.usage = [(AttributeType.sign, "sign"), (.decrypt, "decrypt"), (.unwrap, "unwrap"), (.derive, "derive")]
                        .filter { values.bool($0.0) == true }.map(\.1)
                }
            }
        case .certificate?:
            let der = try object.attributes([.value])[.value] ?? []
            let category = values.ulong(.certificateCategory).map(CertificateCategory.init(rawValue:))
            summary.certificate = try? CertificateSummary(der: der, category: category)
        default:
            break
        }
        return summary
    }

    /// Medium keys on tokens without CertBridge's approval attribute: their records
    /// (SecurityLevelRecord) turn "high" into "medium", and are left out of the listing.
    private func readRecordedLevels(_ summaries: inout [ObjectSummary], session: Session) {
        for i in summaries.indices where summaries[i].class == "private-key" && summaries[i].flags?.alwaysAuthenticate == true
            && summaries[i].flags?.approval == nil {
            if SecurityLevelRecord.isMedium(session: session, keyLabel: summaries[i].label, idHex: summaries[i].id) {
                summaries[i].securityLevel = .medium
            }
        }
        summaries.removeAll(where: SecurityLevelRecord.isRecord)
    }

    /// Links keys and certificates that share a CKA_ID, as PKCS#11 applications pair them.
    private func pair(_ summaries: inout [ObjectSummary]) {
        var certificateLabels: [String: String] = [:]
        var keyLabels: [String: String] = [:]
        for summary in summaries where !summary.id.isEmpty {
            if summary.class == "certificate" { certificateLabels[summary.id] = summary.label }
            if summary.class == "private-key" { keyLabels[summary.id] = summary.label }
        }
        for i in summaries.indices where !summaries[i].id.isEmpty {
            summaries[i].pairedWith = summaries[i].class == "certificate"
                ? keyLabels[summaries[i].id] : certificateLabels[summaries[i].id]
        }
    }
}

func keyTypeName(_ keyType: KeyType) -> String {
    switch keyType {
    case .rsa: "RSA"
    case .ec: "EC"
    case .aes: "AES"
    case .ecEdwards: "EdDSA"
    case .genericSecret: "generic-secret"
    default: keyType.name
    }
}
