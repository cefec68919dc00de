internal import CPKCS11

/// One object as the token holds it in memory. A private token object read without the master
/// key keeps only its sealed bytes (the catalog's check of a file reads its header so).
final class TokenObject {
    let handle: CK_OBJECT_HANDLE
    let isPrivate: Bool
    /// nil for token objects; the session that made it for session objects.
    let session: CK_SESSION_HANDLE?
    var attributes: AttributeMap
    /// The sealed file body of a private object not yet opened.
    var sealed: [UInt8]?
    /// The usable key, made from the material on first use and kept while the user is logged in.
    var cachedKey: CryptoKey?
    /// How many times this token object was rewritten (0 for a new one and for files older than
    /// the generation); bound into a private object's seal, checked against the token's
    /// Catalog, so a restored older copy of the file is refused.
    var generation: UInt64 = 0

    init(
        handle: CK_OBJECT_HANDLE, isPrivate: Bool, session: CK_SESSION_HANDLE?, attributes: AttributeMap,
        sealed: [UInt8]? = nil
    ) {
        self.handle = handle
        self.isPrivate = isPrivate
        self.session = session
        self.attributes = attributes
        self.sealed = sealed
    }

    var isToken: Bool { session == nil }
    var isReadable: Bool { sealed == nil }
    var objectClass: CK_OBJECT_CLASS? { attributes.ulong(CKA.class) }
    var keyType: CK_KEY_TYPE? { attributes.ulong(CKA.keyType) }
    func flag(_ type: CK_ATTRIBUTE_TYPE) -> Bool { attributes.bool(type) ?? false }

    /// The key's own password protects its material (the High level with a key password).
    var hasKeyPassword: Bool { attributes[CKA.sealedMaterial] != nil }

    /// Object files before generations (read, never written): magic ‖ private flag ‖ body.
    static let legacyMagic: [UInt8] = Array("CBO1".utf8)
    /// Object files now: magic ‖ private flag ‖ generation (u64) ‖ body.
    static let fileMagic: [UInt8] = Array("CBO2".utf8)

    /// The additional data that binds a sealed object file to its handle (and generation).
    static func aad(_ handle: CK_OBJECT_HANDLE, generation: UInt64?) -> [UInt8] {
        var out = generation == nil ? legacyMagic : fileMagic
        out.append(u64: UInt64(handle))
        if let generation { out.append(u64: generation) }
        return out
    }

    /// The object file: magic ‖ private flag ‖ generation ‖ attributes (sealed under the master
    /// key when private).
    func fileBytes(masterKey: [UInt8]?) throws(CKRError) -> [UInt8] {
        var plain = attributes.encoded()
        defer { wipe(&plain) }
        var header = Self.fileMagic + [isPrivate ? 1 : 0]
        header.append(u64: generation)
        if isPrivate {
            guard let masterKey else { throw CKRError(CKR.userNotLoggedIn) }
            return header + (try Sealing.seal(plain, key: masterKey, aad: Self.aad(handle, generation: generation)))
        }
        return header + plain
    }

    /// Whether the file was written before generations (its seal binds the handle only).
    private var isLegacy = false
    /// Where the body (sealed or not) starts in the object file (the fuzz harness reseals it).
    var bodyOffset: Int { isLegacy ? 5 : 13 }

    /// An object read from its file; private ones stay sealed unless the master key is given.
    static func read(handle: CK_OBJECT_HANDLE, bytes: [UInt8], masterKey: [UInt8]?) throws(CKRError) -> TokenObject {
        guard bytes.count >= 5 else { throw CKRError(CKR.deviceError) }
        let legacy = Array(bytes[0..<4]) == legacyMagic
        guard legacy || (Array(bytes[0..<4]) == fileMagic && bytes.count >= 13) else { throw CKRError(CKR.deviceError) }
        var reader = ByteReader(bytes)
        _ = try reader.take(5)
        let generation = legacy ? 0 : try reader.u64()
        let body = reader.rest()
        if bytes[4] == 0 {
            // A public object keeps no copy of its file: its attributes are that file.
            let object = TokenObject(
                handle: handle, isPrivate: false, session: nil, attributes: try AttributeMap.decode(body))
            object.generation = generation
            return object
        }
        let object = TokenObject(handle: handle, isPrivate: true, session: nil, attributes: [:], sealed: body)
        object.generation = generation
        object.isLegacy = legacy
        if let masterKey { try object.unseal(masterKey: masterKey) }
        return object
    }

    /// Opens a sealed private object with the master key.
    func unseal(masterKey: [UInt8]) throws(CKRError) {
        guard let sealed else { return }
        guard
            var plain = Sealing.open(
                sealed, key: masterKey, aad: Self.aad(handle, generation: isLegacy ? nil : generation))
        else {
            throw CKRError(CKR.deviceError)
        }
        defer { wipe(&plain) }
        attributes = try AttributeMap.decode(plain)
        self.sealed = nil
    }
}
