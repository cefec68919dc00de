/// A bounded reader of BER/DER TLVs over a byte buffer: enough to walk a PFX's structure before
/// OpenSSL is given it. Never reads outside the buffer, never recurses deeper than `maxDepth`,
/// and accepts indefinite lengths (as BER writers of PKCS#12 use), ending at the end-of-contents.
struct DERReader {
    /// One element: its identifier octet, and where its contents lie in the buffer.
    struct Element {
        /// The identifier octet (class, constructed bit, low tag number).
        let tag: UInt8
        /// The contents, as indexes into the buffer the reader walks.
        let contents: Range<Int>
        /// Whether the contents were of indefinite length (so they end before an EOC).
        let indefinite: Bool

        /// Whether the element is constructed (its contents are elements).
        var isConstructed: Bool { tag & 0x20 != 0 }
    }

    /// A malformed or over-deep encoding.
    struct Malformed: Error {
        /// What is wrong, for a person.
        let reason: String
    }

    /// The deepest nesting walked; PFX files need about 12 levels.
    static let maxDepth = 32

    let bytes: [UInt8]

    /// The elements of `range`, in order. An EOC (00 00) ends the list when `indefinite`.
    func elements(in range: Range<Int>, indefinite: Bool = false, depth: Int) throws(Malformed) -> [Element] {
        guard depth <= Self.maxDepth else { throw Malformed(reason: "nested more than \(Self.maxDepth) levels deep") }
        var out: [Element] = []
        var index = range.lowerBound
        while index < range.upperBound {
            if indefinite, index + 1 < range.upperBound, bytes[index] == 0, bytes[index + 1] == 0 { return out }
            let element = try element(at: index, limit: range.upperBound, depth: depth)
            out.append(element)
            index = element.contents.upperBound + (element.indefinite ? 2 : 0)
        }
        if indefinite { throw Malformed(reason: "an indefinite length has no end-of-contents") }
        return out
    }

    /// The one element at `index`, which must not reach past `limit`.
    func element(at start: Int, limit: Int, depth: Int) throws(Malformed) -> Element {
        guard depth <= Self.maxDepth else { throw Malformed(reason: "nested more than \(Self.maxDepth) levels deep") }
        var index = start
        guard index < limit else { throw Malformed(reason: "truncated") }
        let tag = bytes[index]
        index += 1
        // High tag numbers (low five bits all set) do not occur in PKCS#12.
        guard tag & 0x1F != 0x1F else { throw Malformed(reason: "a high tag number") }
        guard index < limit else { throw Malformed(reason: "truncated") }
        let first = bytes[index]
        index += 1
        if first == 0x80 {
            guard tag & 0x20 != 0 else { throw Malformed(reason: "an indefinite length on a primitive element") }
            // Find the end by walking the children.
            var cursor = index
            while true {
                guard cursor + 1 < limit else { throw Malformed(reason: "an indefinite length has no end-of-contents") }
                if bytes[cursor] == 0 && bytes[cursor + 1] == 0 { break }
                let child = try element(at: cursor, limit: limit, depth: depth + 1)
                cursor = child.contents.upperBound + (child.indefinite ? 2 : 0)
            }
            return Element(tag: tag, contents: index..<cursor, indefinite: true)
        }
        var length = 0
        if first < 0x80 {
            length = Int(first)
        } else {
            let count = Int(first & 0x7F)
            guard count <= 4 else { throw Malformed(reason: "a length of \(count) bytes") }
            guard index + count <= limit else { throw Malformed(reason: "truncated") }
            for _ in 0..<count {
                length = length << 8 | Int(bytes[index])
                index += 1
            }
        }
        guard length <= limit - index else { throw Malformed(reason: "an element longer than what holds it") }
        return Element(tag: tag, contents: index..<(index + length), indefinite: false)
    }

    /// The children of a constructed element.
    func children(of element: Element, depth: Int) throws(Malformed) -> [Element] {
        guard element.isConstructed else {
            throw Malformed(reason: "a primitive element where a constructed one belongs")
        }
        return try elements(in: element.contents, indefinite: element.indefinite, depth: depth + 1)
    }

    /// An OCTET STRING's bytes, joined from its segments when it is constructed (BER).
    func octets(of element: Element, depth: Int) throws(Malformed) -> [UInt8] {
        guard element.tag & 0x1F == 0x04 || element.tag & 0xC0 != 0 else {
            throw Malformed(reason: "not an OCTET STRING")
        }
        if !element.isConstructed { return Array(bytes[element.contents]) }
        var out: [UInt8] = []
        for segment in try children(of: element, depth: depth) { out += try octets(of: segment, depth: depth + 1) }
        return out
    }

    /// A non-negative INTEGER's value, saturating at `Int64.max`; nil for a negative one.
    func integer(_ element: Element) -> Int64? {
        guard element.tag == 0x02, !element.contents.isEmpty else { return nil }
        guard bytes[element.contents.lowerBound] & 0x80 == 0 else { return nil }
        var value: Int64 = 0
        for index in element.contents {
            guard value <= (Int64.max >> 8) else { return Int64.max }
            value = value << 8 | Int64(bytes[index])
        }
        return value
    }

    /// An OBJECT IDENTIFIER's contents bytes (compared as bytes; no decoding needed).
    func objectIdentifier(_ element: Element) -> ArraySlice<UInt8>? {
        element.tag == 0x06 ? bytes[element.contents] : nil
    }
}
