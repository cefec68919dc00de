public import PKCS11

/// A private key found on a token, with the session it was found in.
public struct KeyHandle {
    /// The token holding the key.
    public let token: Token
    /// The logged-in session the key was found in.
    let session: Session
    /// The private key object.
    let object: Object
    /// CKA_LABEL.
    public let label: String
    /// CKA_ID.
    public let id: [UInt8]
    /// CKA_ID in lower-case hex, as listings show it.
    public var idHex: String { hex(id) }
    /// CKA_KEY_TYPE, when the token reports it.
    let keyType: KeyType?
    /// The flags as the token reported them.
    public let flags: KeyFlags

    /// The key has its own password (the software token's High level).
    public var hasOwnPassword: Bool { flags.ownPassword == true }
}

extension Store {
    /// The one private key a URI names, looked up in a logged-in session on the token it names.
    /// Names the tokens searched when there is none, and asks for an id when there are several.
    public func privateKey(_ uri: PKCS11URI, readWrite: Bool = false, pin: PINProvider?) throws(StoreError) -> KeyHandle
    {
        if let type = uri.type, type != .privateKey {
            throw StoreError(.usage, "the URI names a \(type.rawValue) object; a private key is needed (type=private)")
        }
        var keyURI = uri
        keyURI.type = .privateKey
        let tokens = tokens(matching: uri).filter { $0.info.flags.contains(.tokenInitialized) }
        guard !tokens.isEmpty else {
            let only = try token(matching: uri)  // throws the "no token matches" error with the list
            throw StoreError(.notFound, "the token in slot \"\(only.slot.id)\" is not initialized, so it holds no keys")
        }
        var found: [KeyHandle] = []
        let (sessions, skipped) = try searchSessions(tokens, readWrite: readWrite, pin: pin, search: tokens.count > 1)
        for (token, session) in sessions {
            do throws(PKCS11Error) {
                for object in try session.findObjects(keyURI.objectTemplate) {
                    let values = try object.attributes([.label, .id, .keyType] + KeyFlags.attributes)
                    found.append(
                        KeyHandle(
                            token: token, session: session, object: object, label: values.label ?? "",
                            id: values.id ?? [], keyType: values.keyType, flags: KeyFlags(values)))
                }
            } catch {
                throw StoreError(error, doing: "looking for the key on \"\(token.info.label)\"", token: token)
            }
        }
        guard found.count == 1 else {
            let searched =
                sessions.isEmpty ? "no token" : sessions.map { "\"\($0.0.info.label)\"" }.joined(separator: ", ")
            if found.isEmpty {
                throw StoreError(
                    .notFound,
                    "no private key matches \(keyURI) on \(searched)" + (skipped.notSearched.map { "; " + $0 } ?? ""))
            }
            let names = found.map { "\"\($0.label)\" (id \(hex($0.id)))" }.joined(separator: ", ")
            throw StoreError(
                .usage, "\(found.count) private keys match \(keyURI): \(names); name one with object=LABEL or id=%..")
        }
        return found[0]
    }
}

extension Store {
    /// The one private key the URI names by label or id (`object=`, `id=`) in a session on
    /// `token`, with its description as the token reports it.
    static func namedPrivateKey(_ uri: PKCS11URI, in session: Session, on token: Token) throws(StoreError)
        -> (object: Object, description: KeyDescription)
    {
        var template: [Attribute] = [Attribute(.privateKey)]
        if let label = uri.object { template.append(Attribute(.label, string: label)) }
        if let id = uri.id { template.append(Attribute(.id, bytes: id)) }
        guard template.count > 1 else {
            throw StoreError(.usage, "name the key with object=LABEL or id=ID in the URI (\(uri.description))")
        }
        let object: Object
        let values: AttributeValues
        do throws(PKCS11Error) {
            object = try session.findObject(template, what: "private key matching \(uri.description)")
            values = try object.attributes(KeyDescription.attributes)
        } catch {
            throw StoreError(error, doing: "finding the key", token: token)
        }
        return (object, try KeyDescription(values, token: token))
    }
}

/// The answer to "is this key exportable?", from the flags the token reports.
public struct Exportability: Sendable, Codable {
    /// A PKCS#11 URI naming the key.
    public var uri: String
    /// The label of the token holding the key.
    public var token: String
    /// The key's label.
    public var label: String
    /// The answer.
    public var exportable: Bool
    /// Why, naming the flags.
    public var reason: String
    /// Every flag as the token reported it.
    public var flags: KeyFlags
    /// The key's security level.
    public var securityLevel: SecurityLevel
}

extension Store {
    /// Whether the key a URI names can leave its token, and why.
    public func exportability(of uri: PKCS11URI, pin: PINProvider?) throws(StoreError) -> Exportability {
        let key = try privateKey(uri, pin: pin)
        var keyURI = key.token.uri
        keyURI.object = key.label
        keyURI.id = key.id
        keyURI.type = .privateKey
        return Exportability(
            uri: keyURI.description, token: key.token.info.label, label: key.label,
            exportable: key.flags.isExportable, reason: key.flags.exportabilityReason,
            flags: key.flags, securityLevel: key.flags.securityLevel)
    }
}
