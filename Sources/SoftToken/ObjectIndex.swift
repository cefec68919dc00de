internal import CPKCS11

/// The token's in-memory lookup by the attributes clients search on (class, id, label): a
/// C_FindObjects with any of them costs the size of the smallest matching set, not the number
/// of objects on the token, so clients that search once per object (p11tool) stay linear.
/// It holds the catalog's entries (a private object's once the login opened its attributes)
/// and the session objects. Values are kept as 64-bit hashes: a candidate is checked against
/// the template afterwards, so a collision costs a comparison, never a wrong answer.
struct ObjectIndex {
    static let indexed: [CK_ATTRIBUTE_TYPE] = [CKA.class, CKA.id, CKA.label]

    private struct Key: Hashable {
        let type: CK_ATTRIBUTE_TYPE
        let hash: UInt64
    }
    private var postings: [Key: Set<CK_OBJECT_HANDLE>] = [:]

    private static func key(_ type: CK_ATTRIBUTE_TYPE, _ value: ArraySlice<UInt8>) -> Key {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in value { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Key(type: type, hash: hash)
    }

    /// Adds a handle under its values (`value` gives an attribute's value, or nil).
    mutating func add(_ handle: CK_OBJECT_HANDLE, _ value: (CK_ATTRIBUTE_TYPE) -> ArraySlice<UInt8>?) {
        for type in Self.indexed {
            guard let bytes = value(type) else { continue }
            postings[Self.key(type, bytes), default: []].insert(handle)
        }
    }

    mutating func remove(_ handle: CK_OBJECT_HANDLE, _ value: (CK_ATTRIBUTE_TYPE) -> ArraySlice<UInt8>?) {
        for type in Self.indexed {
            guard let bytes = value(type) else { continue }
            let key = Self.key(type, bytes)
            postings[key]?.remove(handle)
            if postings[key]?.isEmpty == true { postings[key] = nil }
        }
    }

    mutating func removeAll() { postings.removeAll() }

    /// The handles that can match `template`, from its most selective indexed attribute; nil
    /// when the template names none of them (every object is a candidate).
    func candidates(for template: AttributeMap) -> Set<CK_OBJECT_HANDLE>? {
        var best: Set<CK_OBJECT_HANDLE>?
        for (type, value) in template where Self.indexed.contains(type) {
            let set = postings[Self.key(type, value[...])] ?? []
            if best == nil || set.count < best!.count { best = set }
        }
        return best
    }
}
