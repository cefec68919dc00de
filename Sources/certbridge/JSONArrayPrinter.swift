import CertStore
import FoundationEssentials

/// Prints a JSON array one element at a time, so a long listing is never held whole in memory.
/// The text is the same as `printJSON` prints for the whole array: pretty, sorted keys, each
/// element indented by two spaces.
struct JSONArrayPrinter {
    private let encoder = jsonEncoder()
    private var count = 0

    /// Prints one element (and the opening bracket before the first).
    mutating func print(_ value: some Encodable) throws(StoreError) {
        let text: String
        do { text = UntrustedText.escapingJSON(String(decoding: try encoder.encode(value), as: UTF8.self)) } catch {
            throw StoreError(.failed, "cannot encode JSON: \(error)")
        }
        // JSON strings hold no raw newline, so every line break is the encoder's own.
        printIndented(text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n  "))
    }

    /// Prints one object summary, written without JSONEncoder (the same text, a tenth of the time).
    mutating func print(_ object: ObjectSummary) {
        printIndented(UntrustedText.escapingJSON(object.prettyJSON(indent: 2)))
    }

    /// Prints an element whose lines after the first are indented already.
    private mutating func printIndented(_ element: String) {
        Swift.print(count == 0 ? "[\n  " + element : ",\n  " + element, terminator: "")
        count += 1
    }

    /// Prints the closing bracket (and the opening one, for an empty array).
    func finish() {
        Swift.print(count == 0 ? "[\n\n]" : "\n]")
    }

    /// After an error: closes an array already begun, so what was printed still parses;
    /// prints nothing when nothing was.
    func abandon() {
        if count > 0 { finish() }
    }
}
