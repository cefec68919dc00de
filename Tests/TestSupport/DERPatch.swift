/// Rewrites one INTEGER deep inside a DER file (also inside OCTET STRINGs that hold DER, as a
/// PFX nests its contents) and fixes every enclosing length: how tests make hostile PFX files
/// that `openssl` refuses to write, such as a MAC with 2^31-1 iterations.
public enum DERPatch {
    indirect enum Node {
        case primitive(tag: UInt8, contents: [UInt8])
        case constructed(tag: UInt8, children: [Node])
        /// An OCTET STRING whose contents are one DER element.
        case wrapping(tag: UInt8, inner: Node)
    }

    /// Replaces the `occurrence`-th INTEGER (in document order, counting from 0) whose value is
    /// `value` with `replacement`. Throws when there is no such INTEGER.
    public static func replaceInteger(_ value: Int64, occurrence: Int, with replacement: Int64, in der: [UInt8]) throws
        -> [UInt8]
    {
        guard let root = parse(der[...]).map(\.node) else { throw TestSupportError("not DER") }
        var seen = 0
        var done = false
        func visit(_ node: Node) -> Node {
            switch node {
            case .primitive(let tag, let contents):
                if tag == 0x02, !done, integer(contents) == value {
                    defer { seen += 1 }
                    if seen == occurrence {
                        done = true
                        return .primitive(tag: tag, contents: encode(replacement))
                    }
                }
                return node
            case .constructed(let tag, let children):
                return .constructed(tag: tag, children: children.map(visit))
            case .wrapping(let tag, let inner):
                return .wrapping(tag: tag, inner: visit(inner))
            }
        }
        let patched = visit(root)
        guard done else { throw TestSupportError("no INTEGER \(value) number \(occurrence) (saw \(seen))") }
        return serialize(patched)
    }

    static func parse(_ bytes: ArraySlice<UInt8>) -> (node: Node, rest: ArraySlice<UInt8>)? {
        var cursor = bytes.startIndex
        guard cursor < bytes.endIndex else { return nil }
        let tag = bytes[cursor]
        cursor += 1
        guard cursor < bytes.endIndex else { return nil }
        var length = Int(bytes[cursor])
        cursor += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count > 0, count <= 4, cursor + count <= bytes.endIndex else { return nil }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[cursor])
                cursor += 1
            }
        }
        guard length <= bytes.endIndex - cursor else { return nil }
        let contents = bytes[cursor..<(cursor + length)]
        let rest = bytes[(cursor + length)...]
        if tag & 0x20 != 0 {
            var children: [Node] = []
            var remaining = contents
            while !remaining.isEmpty {
                guard let (child, after) = parse(remaining) else {
                    return (.primitive(tag: tag, contents: Array(contents)), rest)
                }
                children.append(child)
                remaining = after
            }
            return (.constructed(tag: tag, children: children), rest)
        }
        if tag == 0x04, contents.count > 32, let (inner, after) = parse(contents), after.isEmpty,
            case .constructed = inner
        {
            return (.wrapping(tag: tag, inner: inner), rest)
        }
        return (.primitive(tag: tag, contents: Array(contents)), rest)
    }

    static func serialize(_ node: Node) -> [UInt8] {
        let (tag, contents): (UInt8, [UInt8]) =
            switch node {
            case .primitive(let tag, let contents): (tag, contents)
            case .constructed(let tag, let children): (tag, children.flatMap(serialize))
            case .wrapping(let tag, let inner): (tag, serialize(inner))
            }
        var out = [tag]
        if contents.count < 0x80 {
            out.append(UInt8(contents.count))
        } else {
            var length = contents.count
            var bytes: [UInt8] = []
            while length > 0 {
                bytes.insert(UInt8(length & 0xFF), at: 0)
                length >>= 8
            }
            out.append(0x80 | UInt8(bytes.count))
            out += bytes
        }
        return out + contents
    }

    static func integer(_ contents: [UInt8]) -> Int64? {
        guard !contents.isEmpty, contents.count <= 8 else { return nil }
        return contents.reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    static func encode(_ value: Int64) -> [UInt8] {
        var bytes: [UInt8] = []
        var rest = value
        repeat {
            bytes.insert(UInt8(rest & 0xFF), at: 0)
            rest >>= 8
        } while rest > 0
        if bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return bytes
    }
}
