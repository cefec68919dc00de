import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension ObjectSummary {
    /// This summary as JSON, byte for byte as `JSONEncoder` writes it with `.prettyPrinted`,
    /// `.sortedKeys`, `.withoutEscapingSlashes` and ISO 8601 dates (the CLI's `--json`), each
    /// line after the first indented by `indent` spaces. Written directly: JSONEncoder was
    /// three fifths of `certbridge objects --json` on a 50,000-object token.
    public func prettyJSON(indent: Int = 0) -> String {
        var json = PrettyJSON(base: indent)
        json.object { json in
            if let certificate {
                json.key("certificate")
                json.object { json in
                    json.field("category", certificate.category)
                    json.field("issuer", certificate.issuer)
                    json.field("notAfter", PrettyJSON.iso8601(certificate.notAfter))
                    json.field("notBefore", PrettyJSON.iso8601(certificate.notBefore))
                    json.field("serial", certificate.serial)
                    json.field("subject", certificate.subject)
                }
            }
            json.field("class", self.class)
            json.field("curve", curve)
            if let flags {
                json.key("flags")
                json.object { json in
                    json.field("alwaysAuthenticate", flags.alwaysAuthenticate)
                    json.field("alwaysSensitive", flags.alwaysSensitive)
                    json.number("approval", flags.approval)
                    json.field("extractable", flags.extractable)
                    json.field("local", flags.local)
                    json.field("neverExtractable", flags.neverExtractable)
                    json.field("ownPassword", flags.ownPassword)
                    json.field("private", flags.private)
                    json.field("sensitive", flags.sensitive)
                    json.number("triesLeft", flags.triesLeft)
                }
            }
            json.field("id", id)
            json.number("keyBits", keyBits)
            json.field("keyType", keyType)
            json.field("label", label)
            json.field("pairedWith", pairedWith)
            json.field("securityLevel", securityLevel?.rawValue)
            json.field("uri", uri)
            if let usage {
                json.key("usage")
                json.array(usage)
            }
            json.field("verdict", verdict)
            json.field("verdictReason", verdictReason)
        }
        return json.text
    }
}

/// A writer of JSONEncoder's pretty-printed layout: two spaces a level, `"key" : value`, and
/// `[\n\n  ]` for an empty array as it writes one.
private struct PrettyJSON {
    var text = ""
    private let base: Int
    private var level = 0
    private var first = true

    init(base: Int) {
        self.base = base
        text.reserveCapacity(1024)
    }

    private mutating func newline(_ depth: Int) {
        text += "\n"
        text += String(repeating: " ", count: base + 2 * depth)
    }

    private mutating func member() {
        if !first { text += "," }
        first = false
        newline(level)
    }

    mutating func object(_ body: (inout PrettyJSON) -> Void) {
        text += "{"
        level += 1
        first = true
        body(&self)
        level -= 1
        if first { text += "\n" }
        newline(level)
        text += "}"
        first = false
    }

    mutating func array(_ strings: [String]) {
        text += "["
        level += 1
        first = true
        for string in strings {
            member()
            quote(string)
        }
        level -= 1
        if first { text += "\n" }
        newline(level)
        text += "]"
        first = false
    }

    mutating func key(_ name: String) {
        member()
        quote(name)
        text += " : "
    }

    /// A string member; nothing when nil, as JSONEncoder leaves out a nil optional.
    mutating func field(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        quote(value)
    }

    mutating func number<Integer: BinaryInteger>(_ name: String, _ value: Integer?) {
        guard let value else { return }
        key(name)
        text += String(value)
    }

    mutating func field(_ name: String, _ value: Bool?) {
        guard let value else { return }
        key(name)
        text += value ? "true" : "false"
    }

    /// What JSONEncoder writes for the characters it escapes by name.
    private static let named: [Unicode.Scalar: String] = [
        "\"": "\\\"", "\\": "\\\\", "\u{08}": "\\b", "\u{0C}": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
    ]

    /// A JSON string: the named escapes above, the other C0 controls as `\u00xx`, the rest
    /// (including `/`, DEL and non-ASCII) as it is.
    private mutating func quote(_ string: String) {
        text += "\""
        if string.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            text += string
        } else {
            for scalar in string.unicodeScalars {
                if let escape = Self.named[scalar] {
                    text += escape
                } else if scalar.value < 0x20 {
                    let digits = String(scalar.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        text += "\""
    }

    /// `Date` as JSONEncoder's `.iso8601` writes it: UTC, whole seconds.
    static func iso8601(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year = String(parts.tm_year + 1900)
        return String(repeating: "0", count: max(0, 4 - year.count)) + year + "-" + two(parts.tm_mon + 1) + "-"
            + two(parts.tm_mday) + "T" + two(parts.tm_hour) + ":" + two(parts.tm_min) + ":" + two(parts.tm_sec) + "Z"
    }
}
