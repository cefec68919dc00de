import Foundation
import Testing

@testable import CertStore

/// The journal's lines are written without JSONEncoder: the text is what JSONEncoder writes with
/// the settings the journal used (`.sortedKeys`, `.iso8601`), byte for byte, and
/// `ImportJournal.read` reads it back whole, so a journal left by either build is recovered.
@Suite("import journal lines without JSONEncoder")
struct ImportJournalJSONTests {
    static func encoded(_ line: ImportJournal.Line) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(line), as: UTF8.self)
    }

    static let match = ImportJournal.Match(
        template: [
            .init(type: 0, value: "03000000"), .init(type: 3, value: "616c696365"), .init(type: 0x102, value: ""),
        ], count: 2)

    /// Every kind of line an import writes, with strings a token label or PFX name can hold.
    static let lines: [ImportJournal.Line] = [
        .init(
            operation: "import",
            token: .init(
                label: "Alice \"work\" / home", manufacturer: "Ex\\ample", model: "m\u{1}\t\n",
                serial: "ünï\u{7F}\u{202E}"), pid: 4242, started: Date(timeIntervalSince1970: 1_764_755_400.75),
            irreversible: nil),
        .init(
            operation: "install", token: .init(label: "", manufacturer: "", model: "", serial: ""), pid: 1,
            started: Date(timeIntervalSince1970: 0), irreversible: "the card keeps what was written\r"),
        .init(expect: .init(what: "private key \"k\"", matches: [match, .init(template: [], count: 0)])),
        .init(expect: .init(what: "", matches: [])),
        .init(finish: [match]),
        .init(finish: []),
        .init(committed: true),
        .init(committed: false),
        .init(),
    ]

    @Test("each line is JSONEncoder's text", arguments: lines.indices)
    func sameText(index: Int) throws {
        let line = Self.lines[index]
        #expect(line.json == (try Self.encoded(line)))
    }

    @Test("a journal written this way reads back as written")
    func readsBack() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)").path
        defer { unlink(path) }
        let text = Self.lines.map { $0.json + "\n" }.joined()
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let contents = try #require(ImportJournal.read(fd: fd))
        #expect(contents.operation == "install")
        #expect(contents.token == .init(label: "", manufacturer: "", model: "", serial: ""))
        #expect(contents.pid == 1)
        #expect(contents.irreversible == "the card keeps what was written\r")
        #expect(contents.expected == [Self.lines[2].expect!, Self.lines[3].expect!])
        #expect(contents.finish == [])
        #expect(contents.committed)
    }
}
