internal import CPKCS11

/// Reads one set of attributes from many objects of a session into buffers that are allocated
/// once and reused: one C_GetAttributeValue call for an object that has them all, one more
/// (the lengths of just the variable-length ones it did not give) for an object that lacks
/// some, and the two-pass read of `Session.attributes(_:of:)` only for a value longer than its
/// buffer. For listings: no per-object template, no per-object length pass.
public final class AttributeReader {
    private let session: Session
    private let types: [AttributeType]
    private let capacities: [Int]
    private let arena: Arena
    private var template: [CK_ATTRIBUTE]

    /// The size of CK_ULONG and CK_BBOOL values: an attribute given at most this much room is
    /// taken to be of fixed size, never too long for its buffer.
    static let fixedSize = MemoryLayout<CK_ULONG>.size

    /// A reader of `attributes`, each with room for `capacity` bytes before it needs a second pass.
    public init(session: Session, attributes: [(type: AttributeType, capacity: Int)]) {
        self.session = session
        types = attributes.map(\.type)
        capacities = attributes.map { max($0.capacity, 1) }
        arena = Arena(lengths: capacities)
        template = types.map { CK_ATTRIBUTE(type: $0.rawValue, pValue: nil, ulValueLen: 0) }
    }

    deinit { arena.release() }

    /// The attributes of `object` the token will give; sensitive or unknown ones are absent,
    /// as with `Session.attributes(_:of:)` (C_GetAttributeValue).
    public func read(_ object: Object) throws(PKCS11Error) -> AttributeValues {
        for n in template.indices {
            template[n].pValue = arena.slot(n).baseAddress
            template[n].ulValueLen = CK_ULONG(capacities[n])
        }
        let rv = session.slot.module.functions.pointee.C_GetAttributeValue?(
            session.handle, object.handle, &template, CK_ULONG(template.count))
        let tolerated: Set<UInt> = [
            ReturnValue.ok.rawValue, ReturnValue.attributeSensitive.rawValue,
            ReturnValue.attributeTypeInvalid.rawValue, ReturnValue.bufferTooSmall.rawValue,
        ]
        if let rv, tolerated.contains(rv) {} else { try check("C_GetAttributeValue", rv) }

        let unavailable = CK_ULONG.max  // CK_UNAVAILABLE_INFORMATION
        var values: [AttributeType: [UInt8]] = [:]
        var tooLong: [AttributeType] = []
        for (n, attribute) in template.enumerated() {
            // A value too long for its buffer is CK_UNAVAILABLE_INFORMATION by the spec (some
            // modules put the length needed), just like a sensitive or absent one; and a module
            // may answer CKR_ATTRIBUTE_TYPE_INVALID for the call when one attribute was also too
            // long (SoftHSM2 returns the last error). So every variable-length attribute left
            // unavailable is asked again, lengths first; fixed-size ones cannot be too long.
            let missing = attribute.ulValueLen == unavailable || Int(attribute.ulValueLen) > capacities[n]
            if missing, rv != ReturnValue.ok.rawValue, capacities[n] > Self.fixedSize {
                tooLong.append(types[n])
            } else if !missing {
                values[types[n]] = Array(arena.slot(n).prefix(Int(attribute.ulValueLen)))
            }
        }
        if !tooLong.isEmpty {
            for (type, value) in try session.attributes(tooLong, of: object).values { values[type] = value }
        }
        return AttributeValues(values)
    }
}
