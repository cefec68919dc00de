import FoundationEssentials

extension ImportJournal.Line {
    /// This line as the journal holds it, byte for byte as `JSONEncoder` writes it with
    /// `.sortedKeys` and `.iso8601` dates: compact, keys in order, nil members left out, `/`
    /// escaped. Written directly: JSONEncoder's first use (its generic Encodable machinery) was a
    /// tenth of an import. `ImportJournal.read` still reads it with JSONDecoder, so a journal
    /// written by either is recovered alike.
    var json: String {
        var json = CompactJSON()
        json.object { json in
            json.field("committed", committed)
            if let expect { json.member("expect") { $0.expected(expect) } }
            if let finish { json.member("finish") { $0.matches(finish) } }
            json.field("irreversible", irreversible)
            json.field("operation", operation)
            json.number("pid", pid)
            json.field("started", started.map(JSONText.iso8601))
            if let token {
                json.member("token") {
                    $0.object { json in
                        json.field("label", token.label)
                        json.field("manufacturer", token.manufacturer)
                        json.field("model", token.model)
                        json.field("serial", token.serial)
                    }
                }
            }
        }
        return json.text
    }
}

extension CompactJSON {
    fileprivate mutating func expected(_ expected: ImportJournal.Expected) {
        object { json in
            json.member("matches") { $0.matches(expected.matches) }
            json.field("what", expected.what)
        }
    }

    fileprivate mutating func matches(_ matches: [ImportJournal.Match]) {
        array(matches) { json, match in
            json.object { json in
                json.number("count", match.count)
                json.member("template") {
                    $0.array(match.template) { json, attribute in
                        json.object { json in
                            json.number("type", attribute.type)
                            json.field("value", attribute.value)
                        }
                    }
                }
            }
        }
    }
}

/// A writer of JSONEncoder's compact layout (no spaces or newlines) with its default string
/// escapes. Members are written in the order they are given: the caller keeps them sorted.
struct CompactJSON {
    private(set) var text = ""
    private var first = true

    init() { text.reserveCapacity(512) }

    mutating func object(_ body: (inout CompactJSON) -> Void) {
        text += "{"
        first = true
        body(&self)
        text += "}"
        first = false
    }

    mutating func array<Element>(_ elements: [Element], _ body: (inout CompactJSON, Element) -> Void) {
        text += "["
        first = true
        for element in elements {
            if !first { text += "," }
            first = false
            body(&self, element)
        }
        text += "]"
        first = false
    }

    /// A member whose value `body` writes.
    mutating func member(_ name: String, _ body: (inout CompactJSON) -> Void) {
        if !first { text += "," }
        first = false
        quote(name)
        text += ":"
        body(&self)
    }

    /// A string member; nothing when nil, as JSONEncoder leaves out a nil optional.
    mutating func field(_ name: String, _ value: String?) {
        guard let value else { return }
        member(name) { $0.quote(value) }
    }

    mutating func number(_ name: String, _ value: (some BinaryInteger)?) {
        guard let value else { return }
        member(name) { $0.text += String(value) }
    }

    mutating func field(_ name: String, _ value: Bool?) {
        guard let value else { return }
        member(name) { $0.text += value ? "true" : "false" }
    }

    private mutating func quote(_ string: String) {
        JSONText.quote(string, escapingSlashes: true, to: &text)
    }

}
