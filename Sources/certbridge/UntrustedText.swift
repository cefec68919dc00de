/// Text from a token or a file (labels, friendly names, subjects, token labels, reader names)
/// printed so that it cannot drive the terminal: control characters and bidi overrides are
/// shown as escapes instead of being sent. A label holding `ESC [2J` and a fake
/// "verdict: non-exportable" line shows as `\x1b[2J\nverdict: …` on one line.
enum UntrustedText {
    /// Bidi controls that reorder what follows: LRM/RLM, ALM, the embeddings and overrides
    /// (U+202A–U+202E) and the isolates (U+2066–U+2069).
    static func isBidiControl(_ value: UInt32) -> Bool {
        value == 0x061C || value == 0x200E || value == 0x200F || (0x202A...0x202E).contains(value)
            || (0x2066...0x2069).contains(value)
    }

    /// `text` with C0, DEL, C1 and bidi controls made visible. `keepNewlines` is for our own
    /// multi-line messages on stderr; a cell or a value is escaped whole.
    static func visible(_ text: String, keepNewlines: Bool = false) -> String {
        // Printable ASCII, what almost every label and name is, needs no scalar-by-scalar look.
        if isPrintableASCII(text) { return text }
        guard text.unicodeScalars.contains(where: { needsEscape($0.value) }) else { return text }
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 8)
        for scalar in text.unicodeScalars {
            let value = scalar.value
            switch value {
            case 0x0A where keepNewlines: out.unicodeScalars.append(scalar)
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x00...0x1F, 0x7F: out += "\\x" + hex(value, digits: 2)
            case 0x80...0x9F: out += "\\u{" + hex(value, digits: 2) + "}"
            case _ where isBidiControl(value): out += "\\u{" + hex(value, digits: 4) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// JSON text with DEL, C1 and bidi controls escaped as `\u00XX` (JSONEncoder escapes only
    /// C0). They can only occur inside JSON strings, so the document stays equal in meaning.
    static func escapingJSON(_ json: String) -> String {
        guard !json.utf8.allSatisfy({ $0 < 0x7F }),
            json.unicodeScalars.contains(where: {
                $0.value == 0x7F || (0x80...0x9F).contains($0.value) || isBidiControl($0.value)
            })
        else {
            return json
        }
        var out = ""
        for scalar in json.unicodeScalars {
            let value = scalar.value
            if value == 0x7F || (0x80...0x9F).contains(value) || isBidiControl(value) {
                out += "\\u" + hex(value, digits: 4)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isPrintableASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    private static func needsEscape(_ value: UInt32) -> Bool {
        value < 0x20 || value == 0x7F || (0x80...0x9F).contains(value) || isBidiControl(value)
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

extension String {
    /// This string from a token or file, safe to print (see `UntrustedText.visible`).
    var visible: String { UntrustedText.visible(self) }
}
