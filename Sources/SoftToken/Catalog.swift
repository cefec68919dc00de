internal import CPKCS11

/// A file's identity as stat(2) gives it. A file our writes renamed into place keeps it until
/// someone changes or replaces the file: the change time cannot be set back by its owner.
struct FileIdentity: Equatable {
    var inode: UInt64 = 0
    var size: UInt64 = 0
    var changed: UInt64 = 0  // ctime in nanoseconds
}

/// SHA-256 of an object file, kept inline (no allocation per object).
struct FileDigest: Equatable {
    var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0

    init() {}
    init(of bytes: [UInt8]) { self.init(digest: Token.digest(bytes)[...]) }
    init(digest: ArraySlice<UInt8>) {
        var reader = ByteReader(digest)
        a = (try? reader.u64()) ?? 0
        b = (try? reader.u64()) ?? 0
        c = (try? reader.u64()) ?? 0
        d = (try? reader.u64()) ?? 0
    }
    func append(to out: inout [UInt8]) { for word in [a, b, c, d] { out.append(u64: word) } }
}

/// What the catalog knows of one token object without reading its file.
struct CatalogEntry {
    /// The object's generation (Catalog.destroyed once it is gone).
    var generation: UInt64
    /// The file as last written (inode, size, change time) and its SHA-256.
    var identity: FileIdentity
    var digest: FileDigest
    var isPrivate: Bool
    /// The searchable attributes (Catalog.searchable), encoded as an AttributeMap: a public
    /// object's from the plain part, a private one's from the sealed part once the token key
    /// opened it; nil while unknown.
    var searchable: [UInt8]?
    /// The record that last set this entry (-1: not in the file yet, found in objects/), and the
    /// last sealed record that named the object (-1: none).
    var record: Int32
    var sealedRecord: Int32

    var isDestroyed: Bool { generation == Catalog.destroyed }
}

/// The token's catalog, in the `index` file (`index-N` in key epoch N): for every token object its handle, generation,
/// file identity and file hash, with the attributes clients search on. It is at once the index
/// that lets a C_FindObjects by class, id or label read no object file, and the token's
/// manifest: a record written while someone is logged in carries a seal under the token's
/// master key over its plain part, with the private objects' searchable attributes inside.
///
/// The file is a log: "CBI1", then records, each `length ‖ body ‖ FNV-1a-64(body)`, appended
/// under the token's exclusive lock. A record torn by a kill fails its check and is ignored (the
/// next writer cuts it off). When the log has grown past its last compaction, a logged-in
/// writer rewrites it as a single record (temporary file, renamed).
///
/// Body: kind (1) ‖ count (u32) ‖ entries ‖ sealed length (u32) ‖ sealed. An entry: handle,
/// generation, inode, size, change time (u64 each), private flag (u8), SHA-256 of the file (32),
/// searchable length (u32) and bytes (public objects only). The sealed part is AES-256-GCM under
/// the master key with "certbridge index <serial>" ‖ SHA-256(plain part) as additional data,
/// of `handle ‖ length ‖ searchable` for each private object of the record.
struct Catalog {
    static let magic: [UInt8] = Array("CBI1".utf8)
    static let destroyed = UInt64.max

    /// The attributes the catalog keeps for searches.
    static let searchable: Set<CK_ATTRIBUTE_TYPE> = [
        CKA.class, CKA.token, CKA.private, CKA.id, CKA.label,
        CKA.keyType, CKA.certificateType,
    ]

    var entries: [CK_OBJECT_HANDLE: CatalogEntry] = [:]
    /// Every record's sealed part (kept sealed; opened at each login), with its additional data.
    var seals: [(record: Int32, aad: [UInt8], sealed: [UInt8])] = []
    /// Whether seals were opened as they were read (with the key) and not kept: `openAll` cannot
    /// open those again, the catalog is read afresh instead. A listing's catalog holds no sealed
    /// copy of what it opened.
    private(set) var hasUnkeptSeals = false
    /// Records whose seal does not open under the token key.
    var forged: Set<Int32> = []
    /// How much of the file was read and whole, the file's identity then, records so far, and the
    /// size of the file right after its last compaction.
    var length = 0
    var fileIdentity: FileIdentity?
    var records: Int32 = 0
    var compactedLength = 0

    /// The searchable attributes of `attributes`, encoded.
    static func searchableBytes(_ attributes: AttributeMap) -> [UInt8] {
        attributes.filter { searchable.contains($0.key) }.encoded()
    }

    /// One attribute's value in an encoded AttributeMap, read in place.
    static func value(_ type: CK_ATTRIBUTE_TYPE, in encoded: [UInt8]) -> ArraySlice<UInt8>? {
        var offset = 0
        while offset + 12 <= encoded.count {
            var t: UInt64 = 0
            for i in 0..<8 { t = t << 8 | UInt64(encoded[offset + i]) }
            var n = 0
            for i in 8..<12 { n = n << 8 | Int(encoded[offset + i]) }
            offset += 12
            guard offset + n <= encoded.count else { return nil }
            if t == UInt64(type) { return encoded[offset..<offset + n] }
            offset += n
        }
        return nil
    }

    static func aad(serial: String, plain: ArraySlice<UInt8>) -> [UInt8] {
        Array("certbridge index \(serial)".utf8) + plain.withUnsafeBufferPointer { Token.digest($0) }
    }

    // MARK: - Records

    /// One record for `changes`; sealed (and so vouched for) when the master key is given.
    static func record(_ changes: [(CK_OBJECT_HANDLE, CatalogEntry)], masterKey: [UInt8]?, serial: String)
        throws(CKRError) -> [UInt8]
    {
        var plain: [UInt8] = [1]
        plain.append(u32: UInt32(changes.count))
        var secret: [UInt8] = []
        defer { wipe(&secret) }
        for (handle, entry) in changes {
            plain.append(u64: UInt64(handle))
            plain.append(u64: entry.generation)
            plain.append(u64: entry.identity.inode)
            plain.append(u64: entry.identity.size)
            plain.append(u64: entry.identity.changed)
            plain.append(entry.isPrivate ? 1 : 0)
            entry.digest.append(to: &plain)
            let shown = entry.isPrivate ? [] : (entry.searchable ?? [])
            plain.append(u32: UInt32(shown.count))
            plain += shown
            if entry.isPrivate, let searchable = entry.searchable {
                secret.append(u64: UInt64(handle))
                secret.append(u32: UInt32(searchable.count))
                secret += searchable
            }
        }
        var body = plain
        if let masterKey {
            let sealed = try Sealing.seal(secret, key: masterKey, aad: aad(serial: serial, plain: plain[...]))
            body.append(u32: UInt32(sealed.count))
            body += sealed
        } else {
            body.append(u32: 0)
        }
        var framed: [UInt8] = []
        framed.append(u32: UInt32(body.count))
        framed += body
        framed.append(u64: fnv1a(body))
        return framed
    }

    static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// Reads the records in `bytes` (the file from `length` on, or the whole file when
    /// `length` is 0) into the catalog; the key, when given, opens their seals at once.
    /// Returns the handles whose entries changed, with their entries before.
    mutating func apply(_ bytes: [UInt8], masterKey: [UInt8]?, serial: String, reportingChanges: Bool = true)
        -> [(CK_OBJECT_HANDLE, CatalogEntry?)]
    {
        var offset = 0
        if length == 0 {
            guard bytes.count >= 4, Array(bytes[0..<4]) == Self.magic else { return [] }
            offset = 4
            length = 4
        }
        var changed: [(CK_OBJECT_HANDLE, CatalogEntry?)] = []
        while offset + 4 <= bytes.count {
            var n = 0
            for i in 0..<4 { n = n << 8 | Int(bytes[offset + i]) }
            guard n > 0, offset + 4 + n + 8 <= bytes.count else { break }
            // Read in place: a copy of each record was a second catalog in memory while opening.
            let body = bytes[offset + 4..<offset + 4 + n]
            var check: UInt64 = 0
            for i in 0..<8 { check = check << 8 | UInt64(bytes[offset + 4 + n + i]) }
            // Checked whole first, then applied entry by entry as it is parsed again (no array of
            // the record's entries beside the catalog).
            guard check == Self.fnv1a(body), let shape = try? Self.parse(body, visiting: false) else { break }
            let number = records
            records += 1
            let sealed = !shape.sealed.isEmpty
            if entries.isEmpty { entries.reserveCapacity(shape.count) }
            _ = try? Self.parse(body, visiting: true) { handle, entry in
                var entry = entry
                entry.record = number
                let old = entries.updateValue(entry, forKey: handle)
                entries[handle]?.sealedRecord = sealed ? number : (old?.sealedRecord ?? -1)
                if reportingChanges { changed.append((handle, old)) }
            }
            if sealed {
                let aad = Self.aad(serial: serial, plain: body[..<shape.plainEnd])
                if let masterKey {
                    open(record: number, aad: aad, sealed: body[shape.sealed], masterKey: masterKey)
                    hasUnkeptSeals = true
                } else {
                    seals.append((number, aad, Array(body[shape.sealed])))
                }
            }
            offset += 4 + n + 8
            length += 4 + n + 8
        }
        return changed
    }

    /// Walks one record's body, giving each entry to `visit` when `visiting` (else it only
    /// checks the layout). Returns the entry count, where the plain part ends and where the
    /// sealed part is.
    private static func parse(
        _ body: ArraySlice<UInt8>, visiting: Bool, _ visit: (CK_OBJECT_HANDLE, CatalogEntry) -> Void = { _, _ in }
    ) throws(CKRError) -> (count: Int, plainEnd: Int, sealed: Range<Int>) {
        var reader = ByteReader(body)
        guard try reader.take(1).first == 1 else { throw CKRError(CKR.deviceError) }
        let count = Int(try reader.u32())
        for _ in 0..<count {
            let handle = CK_OBJECT_HANDLE(try reader.u64())
            let generation = try reader.u64()
            let identity = FileIdentity(inode: try reader.u64(), size: try reader.u64(), changed: try reader.u64())
            let isPrivate = try reader.take(1).first == 1
            let digest = FileDigest(digest: try reader.take(32))
            let shown = try reader.take(Int(try reader.u32()))
            guard visiting else { continue }
            visit(
                handle,
                CatalogEntry(
                    generation: generation, identity: identity, digest: digest, isPrivate: isPrivate,
                    searchable: isPrivate ? nil : Array(shown), record: -1, sealedRecord: -1))
        }
        let plainEnd = body.startIndex + reader.offset
        let sealed = try reader.take(Int(try reader.u32()))
        guard reader.isAtEnd else { throw CKRError(CKR.deviceError) }
        return (count, plainEnd, sealed.startIndex..<sealed.endIndex)
    }

    /// Opens one record's seal (read in place): the private objects it names get their
    /// searchable attributes; a seal that does not open marks the record forged.
    private mutating func open(record: Int32, aad: [UInt8], sealed: ArraySlice<UInt8>, masterKey: [UInt8]) {
        guard var secret = Sealing.open(sealed, key: masterKey, aad: aad) else {
            forged.insert(record)
            return
        }
        defer { wipe(&secret) }
        var reader = ByteReader(secret)
        while !reader.isAtEnd {
            guard let handle = try? reader.u64(), let n = try? reader.u32(), let value = try? reader.take(Int(n)) else {
                forged.insert(record)
                return
            }
            let key = CK_OBJECT_HANDLE(handle)
            if entries[key]?.record == record { entries[key]?.searchable = Array(value) }
        }
    }

    /// Opens every seal (at login); the handles whose private attributes became known. Not for
    /// a catalog with unkept seals (`hasUnkeptSeals`).
    mutating func openAll(masterKey: [UInt8]) {
        forged = []
        for seal in seals { open(record: seal.record, aad: seal.aad, sealed: seal.sealed[...], masterKey: masterKey) }
    }

    /// Forgets the private objects' searchable attributes (at logout); returns their handles.
    mutating func closePrivate() -> [CK_OBJECT_HANDLE] {
        var closed: [CK_OBJECT_HANDLE] = []
        for (handle, entry) in entries where entry.isPrivate && entry.searchable != nil {
            entries[handle]?.searchable = nil
            closed.append(handle)
        }
        return closed
    }

    /// Why the entry cannot be trusted after the login checked the seals, or nil.
    func problem(_ handle: CK_OBJECT_HANDLE) -> String? {
        guard let entry = entries[handle] else { return nil }
        if forged.contains(entry.record) || (entry.sealedRecord >= 0 && forged.contains(entry.sealedRecord)) {
            return "object \(String(handle, radix: 16)): its index entry does not open under the token key (forged)"
        }
        if entry.sealedRecord >= 0 && entry.sealedRecord != entry.record {
            return "object \(String(handle, radix: 16)) was changed without the token key"
        }
        return nil
    }

    /// The whole catalog as one sealed record (a compaction), and the file it makes.
    func compacted(masterKey: [UInt8], serial: String) throws(CKRError) -> [UInt8] {
        let all = entries.filter { $0.value.record >= -1 }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return Self.magic + (try Self.record(all, masterKey: masterKey, serial: serial))
    }
}
