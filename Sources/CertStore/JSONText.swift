import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The pieces of JSON text that CertBridge writes without JSONEncoder (the listing's summaries,
/// the import journal's lines), as JSONEncoder writes them, so that either may be read back with
/// JSONDecoder and compared byte for byte with JSONEncoder's output in tests.
enum JSONText {
    /// What JSONEncoder writes for the characters it escapes by name; `/` is one of them unless
    /// `.withoutEscapingSlashes` is set.
    private static let named: [Unicode.Scalar: String] = [
        "\"": "\\\"", "\\": "\\\\", "\u{08}": "\\b", "\u{0C}": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
    ]

    /// Appends `string` as a JSON string: the named escapes, the other C0 controls as `\u00xx`,
    /// the rest (DEL and non-ASCII included) as it is.
    static func quote(_ string: String, escapingSlashes: Bool, to text: inout String) {
        text += "\""
        let slash = UInt8(ascii: "/")
        if string.utf8.allSatisfy({
            $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") && !(escapingSlashes && $0 == slash)
        }) {
            text += string
        } else {
            for scalar in string.unicodeScalars {
                if escapingSlashes && scalar == "/" {
                    text += "\\/"
                } else if let escape = named[scalar] {
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
