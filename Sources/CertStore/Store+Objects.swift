public import PKCS11

extension Store {
    /// How to get a token PIN when a login is needed. Called at most once per operation.
    public typealias PINProvider = (_ token: Token) throws(StoreError) -> PIN

    /// Opens a session on the token, logged in as the user when `pin` is given and the token
    /// wants a login. A wrong PIN is a `wrongSecret` error with the tries left where known.
    /// Before the session is handed out, an import a killed process left half-done on the token
    /// is rolled back (Store+Recovery.swift), so what the caller sees is whole.
    func session(on token: Token, readWrite: Bool = false, pin: PINProvider?) throws(StoreError) -> Session {
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
        } catch  where error.returnValue == .userAlreadyLoggedIn {
            return session
        } catch {
            throw StoreError(error, doing: "logging in to \"\(token.info.label)\"", token: token)
        }
        return session
    }

    /// Every object on every token the URI names (all tokens for nil), as the tokens report them.
    /// Over several tokens, one whose PIN is not given or is refused is skipped and returned.
    public func objects(matching uri: PKCS11URI?, pin: PINProvider?) throws(StoreError) -> (
        objects: [ObjectSummary], skipped: [StoreError]
    ) {
        var summaries: [ObjectSummary] = []
        let skipped = try forEachObject(matching: uri, pin: pin) { summaries.append($0) }
        return (summaries, skipped)
    }

    /// Hands every object on every token the URI names (all tokens for nil) to `body` as it is
    /// read, token by token, so a listing prints while it reads and holds one object at a time
    /// (plus, per object, its handle and what the pairing pass read of it: about 100 bytes).
    /// Over several tokens, one whose PIN is not given or is refused is skipped and returned.
    @discardableResult
    public func forEachObject(
        matching uri: PKCS11URI?, pin: PINProvider?,
        _ body: (ObjectSummary) throws(StoreError) -> Void
    ) throws(StoreError) -> [StoreError] {
        // A slot with no token initialized (the software token keeps one for C_InitToken) holds nothing.
        let tokens = tokens(matching: uri).filter { $0.info.flags.contains(.tokenInitialized) }
        if let uri, uri.token != nil || uri.serial != nil, tokens.isEmpty {
            _ = try token(matching: uri)  // throws the "no token matches" error with the list
        }
        let (sessions, skipped) = try searchSessions(tokens, pin: pin, search: tokens.count > 1)
        for (token, session) in sessions {
            try forEachObject(in: session, token: token, template: uri?.objectTemplate ?? [], body)
            integrityFailures += integrityFailures(in: session, token: token)
        }
        return skipped
    }

    /// What a listing reads of an object: what every object has first (`common`: class, label,
    /// id, key type, certificate category), then what its class and key type have, each with
    /// room enough that one C_GetAttributeValue call gives all of it for usual objects (an
    /// RSA-8192 modulus, labels and ids of 256 bytes). A token is asked only for what the object
    /// can have: an EC key is not asked for a modulus, a certificate not for key flags. An
    /// attribute the object cannot have costs twice on SoftHSM2 (which checks its object file
    /// per attribute), and a variable-length one that comes back unavailable is asked again
    /// (it may have been too long: SoftHSM2 then reports the last error of the call).
    final class SummaryReaders {
        static let common: [(type: AttributeType, capacity: Int)] = [
            (.class, 8), (.label, 256), (.id, 256), (.keyType, 8), (.certificateCategory, 8),
        ]
        /// The attributes that give a key's size, by key type (all of them when it is unknown).
        static func size(_ keyType: KeyType?) -> [(type: AttributeType, capacity: Int)] {
            switch keyType {
            case .rsa?: [(.modulus, 1024), (.modulusBits, 8)]
            case .ec?, .ecEdwards?, .ecMontgomery?: [(.ecParams, 128)]
            case nil: [(.modulus, 1024), (.modulusBits, 8), (.ecParams, 128), (.valueLen, 8)]
            default: [(.valueLen, 8)]
            }
        }
        static let usage: [(type: AttributeType, capacity: Int)] = [
            (.sign, 1), (.decrypt, 1), (.unwrap, 1), (.derive, 1),
        ]
        static let flags: [(type: AttributeType, capacity: Int)] = KeyFlags.attributes.map {
            ($0, $0 == .certBridgeApproval || $0 == .certBridgeTriesLeft ? 8 : 1)
        }

        private let session: Session
        let common: AttributeReader
        /// The readers made so far, by class and key type (raw values).
        private var byKind: [Kind: AttributeReader] = [:]
        private struct Kind: Hashable {
            let objectClass: UInt?
            let keyType: UInt?
        }

        init(session: Session) {
            self.session = session
            common = AttributeReader(session: session, attributes: Self.common)
        }

        /// The reader of what an object of this class and key type has beyond `common`; nil
        /// when that is nothing (data objects).
        func reader(for objectClass: ObjectClass?, keyType: KeyType?) -> AttributeReader? {
            let attributes: [(type: AttributeType, capacity: Int)]
            switch objectClass {
            case .privateKey?, .secretKey?: attributes = Self.size(keyType) + Self.usage + Self.flags
            case .publicKey?: attributes = Self.size(keyType)
            case .certificate?: attributes = [(.value, 4096)]
            default: return nil
            }
            let kind = Kind(objectClass: objectClass?.rawValue, keyType: keyType?.rawValue)
            if let reader = byKind[kind] { return reader }
            let reader = AttributeReader(session: session, attributes: attributes)
            byKind[kind] = reader
            return reader
        }
    }

    func forEachObject(
        in session: Session, token: Token, template: [Attribute],
        _ body: (ObjectSummary) throws(StoreError) -> Void
    ) throws(StoreError) {
        let found: [Object]
        let pairs: Pairs
        let readers = SummaryReaders(session: session)
        do throws(PKCS11Error) {
            found = try session.findObjects(template)
            // Nothing listed, nothing to pair: no pass over the token's keys and certificates.
            pairs = found.isEmpty ? Pairs() : try Pairs(in: session, template: template, found: found, readers: readers)
        } catch {
            throw StoreError(error, doing: "listing objects on \"\(token.info.label)\"", token: token)
        }
        for (n, object) in found.enumerated() {
            var summary: ObjectSummary
            do throws(PKCS11Error) {
                summary = try self.summary(of: object, on: token, readers: readers, basics: pairs.basics(n))
            } catch {
                throw StoreError(error, doing: "listing objects on \"\(token.info.label)\"", token: token)
            }
            // Medium keys on tokens without CertBridge's approval attribute: their records
            // (SecurityLevelRecord) turn "high" into "medium", and are left out of the listing.
            if SecurityLevelRecord.isRecord(summary) { continue }
            if summary.class == "private-key", let flags = summary.flags,
                SecurityLevelRecord.isMedium(
                    flags, keyLabel: summary.label, idHex: summary.id, session: session, token: token)
            {
                summary.securityLevel = .medium
            }
            pairs.pair(&summary)
            try body(summary)
        }
    }

    /// One object's summary, for a caller that reads only a few.
    func summary(of object: Object, on token: Token) throws(PKCS11Error) -> ObjectSummary {
        try summary(of: object, on: token, readers: SummaryReaders(session: object.session), basics: nil)
    }

    /// `basics`: the object's `common` attributes when the pairing pass read them already.
    func summary(of object: Object, on token: Token, readers: SummaryReaders, basics known: ObjectBasics?)
        throws(PKCS11Error) -> ObjectSummary
    {
        let basics: ObjectBasics
        if let known { basics = known } else { basics = ObjectBasics(try readers.common.read(object)) }
        let objectClass = basics.objectClass
        var values = AttributeValues()
        if let reader = readers.reader(for: objectClass, keyType: basics.keyType) { values = try reader.read(object) }
        var uri = token.uri
        uri.object = basics.label
        uri.id = basics.id
        uri.type = PKCS11URI.ObjectType.allCases.first { $0.objectClass == objectClass }
        var summary = ObjectSummary(
            uri: uri.description, class: className(objectClass), label: basics.label ?? "",
            id: hex(basics.id ?? []))
        switch objectClass {
        case .privateKey?, .publicKey?, .secretKey?:
            let keyType = basics.keyType
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
                    summary.usage = [
                        (AttributeType.sign, "sign"), (.decrypt, "decrypt"), (.unwrap, "unwrap"), (.derive, "derive"),
                    ]
                    .filter { values.bool($0.0) == true }.map(\.1)
                }
            }
        case .certificate?:
            let der = values[.value] ?? []
            let category = basics.category.map(CertificateCategory.init(rawValue:))
            summary.certificate = try? CertificateSummary(der: der, category: category)
        default:
            break
        }
        return summary
    }
}

/// An object's class, label, id, key type and certificate category (`SummaryReaders.common`):
/// read of every object by a listing's pairing pass and kept for its summary, so each object is
/// asked twice (these, then what its class has), not three times. About 100 bytes an object.
struct ObjectBasics {
    var objectClass: ObjectClass?
    var label: String?
    var id: [UInt8]?
    var keyType: KeyType?
    var category: UInt?

    init(_ values: AttributeValues) {
        objectClass = values.objectClass
        label = values.label
        id = values.id
        keyType = values.keyType
        category = values.ulong(.certificateCategory)
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
