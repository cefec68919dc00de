import ArgumentParser
import CertStore
import FoundationEssentials
import Glibc

/// A subcommand that works on the store: it runs `execute`, and turns a StoreError into one
/// sentence on stderr and the documented exit code.
protocol StoreCommand: ParsableCommand {
    var global: GlobalOptions { get }
    func execute() throws(StoreError)
}

extension StoreCommand {
    func run() throws {
        do throws(StoreError) {
            try execute()
        } catch {
            if !error.reason.isEmpty {
                printError(error.reason)
                if global.json { printJSONError(code: error.code.rawValue, message: error.reason) }
            }
            throw ExitCode(error.code.rawValue)
        }
    }

    /// Prints a value as pretty, stable JSON.
    func printJSON(_ value: some Encodable) throws(StoreError) {
        do {
            print(UntrustedText.escapingJSON(String(decoding: try jsonEncoder().encode(value), as: UTF8.self)))
            JSONOutput.printed = true
        } catch {
            throw StoreError(.failed, "cannot encode JSON: \(error)")
        }
    }

    /// Parses a URI argument, turning a malformed one into a usage error.
    func parseURI(_ text: String) throws(StoreError) -> PKCS11URI { try uriArgument(text) }
}

/// The encoder behind every `--json` output: pretty, stable key order, ISO 8601 dates.
func jsonEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return encoder
}

/// A URI argument parsed, a malformed one a usage error.
func uriArgument(_ text: String) throws(StoreError) -> PKCS11URI {
    try PKCS11URI(parsing: text)
}

/// `certbridge: error: ...` on stderr.
func printError(_ message: String) {
    writeStandardError("certbridge: error: \(UntrustedText.visible(message, keepNewlines: true))\n")
}

/// Whether a JSON document went to stdout already: an error after it is not a second document.
enum JSONOutput {
    nonisolated(unsafe) static var printed = false
}

/// `{"error": {"code": N, "message": "..."}}` on stdout, for a `--json` run that fails: scripts
/// get one shape for every failure. The sentence is on stderr too. Not printed when the command
/// already printed its JSON (a partial listing whose exit code says what is missing).
func printJSONError(code: Int32, message: String) {
    guard !JSONOutput.printed else { return }
    struct Failure: Encodable {
        struct Detail: Encodable {
            let code: Int32
            let message: String
        }
        let error: Detail
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(Failure(error: .init(code: code, message: message))) else { return }
    print(UntrustedText.escapingJSON(String(decoding: data, as: UTF8.self)))
    JSONOutput.printed = true
}

/// `certbridge: warning: ...` on stderr, "warning" in yellow on a terminal.
func printWarning(_ message: String) {
    let tag = Style.paint("warning:", .yellow, fd: STDERR_FILENO)
    writeStandardError("certbridge: \(tag) \(UntrustedText.visible(message, keepNewlines: true))\n")
}

/// `certbridge: note: ...` on stderr: progress and hints that scripts can ignore.
func printNote(_ message: String) {
    writeStandardError("certbridge: \(UntrustedText.visible(message, keepNewlines: true))\n")
}

/// A left-aligned text table.
///
/// Every cell is printed through `UntrustedText.visible`: cells hold labels, subjects and names
/// from tokens and files.
func table(_ rows: [[String]], indent: String = "") -> String {
    let rows = rows.map { $0.map { $0.visible } }  // a closure: a key path is looked up per call
    guard let width = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: width)
    // A row's last cell is not padded, so its width is never needed (and is the long one: a
    // subject, a URI).
    for row in rows { for (i, cell) in row.enumerated().dropLast() { widths[i] = max(widths[i], cell.columns) } }
    // One string appended to, not a string per cell and line joined: this was a tenth of
    // listing 50,000 objects.
    var out = ""
    out.reserveCapacity(rows.reduce(0) { $0 + indent.utf8.count + $1.reduce(0) { $0 + $1.utf8.count + 2 } } + 64)
    for (n, row) in rows.enumerated() {
        if n > 0 { out += "\n" }
        out += indent
        appendLine(row, widths: widths, to: &out)
    }
    return out
}

/// One row of a table: each cell but the last padded to its column's width, two spaces apart.
func tableLine(_ row: [String], widths: [Int]) -> String {
    var out = ""
    appendLine(row, widths: widths, to: &out)
    return out
}

private func appendLine(_ row: [String], widths: [Int], to out: inout String) {
    for (i, cell) in row.enumerated() {
        if i > 0 { out += "  " }
        out += cell
        // Not NSString's padding(toLength:): it was a twentieth of listing 10,000 objects.
        if i < row.count - 1 { pad(&out, max(0, widths[i] - cell.columns)) }
    }
}

private let spaces = String(repeating: " ", count: 64)

/// `count` spaces appended, without a string made for them.
private func pad(_ out: inout String, _ count: Int) {
    var left = count
    while left > 0 {
        let n = min(left, spaces.utf8.count)
        out.append(contentsOf: spaces.prefix(n))
        left -= n
    }
}

extension String {
    /// The columns a cell takes: its characters, counted without grapheme breaking when it is
    /// ASCII (nearly always).
    fileprivate var columns: Int {
        let bytes = utf8
        return bytes.allSatisfy { $0 < 0x80 } ? bytes.count : count
    }
}
