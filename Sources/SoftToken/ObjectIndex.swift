internal import CPKCS11

/// The token's in-memory lookup by the attributes clients search on (class, id, label): a
/// C_FindObjects with any of them costs the size of the smallest matching set, not the number
/// of objects on the token, so clients that search once per object (p11tool) stay linear.
/// It holds the readable objects only; a sealed private object joins when it is opened.
struct ObjectIndex {
    static let indexed: [CK_ATTRIBUTE_TYPE] = [CKA.class, CKA.id, CKA.label]

    private var postings: [CK_ATTRIBUTE_TYPE: [[UInt8]: Set<CK_OBJECT_HANDLE>]] = [:]

    mutating func add(_ object: TokenObject) {
        for type in Self.indexed {
            guard let value = object.attributes[type] else { continue }
            postings[type, default: [:]][value, default: []].insert(object.handle)
        }
    }

    mutating func remove(_ object: TokenObject) {
        for type in Self.indexed {
            guard let value = object.attributes[type] else { continue }
            postings[type]?[value]?.remove(object.handle)
            if postings[type]?[value]?.isEmpty == true { postings[type]?[value] = nil }
        }
    }

    mutating func removeAll() { postings.removeAll() }

    /// The handles that can match `template`, from its most selective indexed attribute; nil
    /// when the template names none of them (every object is a candidate).
    func candidates(for template: AttributeMap) -> Set<CK_OBJECT_HANDLE>? {
        var best: Set<CK_OBJECT_HANDLE>?
        for (type, value) in template where Self.indexed.contains(type) {
            let set = postings[type]?[value] ?? []
            if best == nil || set.count < best!.count { best = set }
        }
        return best
    }
}
