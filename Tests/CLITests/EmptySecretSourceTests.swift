import Foundation
import TestSupport
import Testing

/// A PIN source that gives nothing is refused before any login (exit 2), so a mistake never
/// spends a PIN try: the token's PIN state is unchanged afterwards. Secrets are read up to 4 KiB.
@Suite("Empty and endless PIN sources")
struct EmptySecretSourceTests {
    func state(of test: TestToken, fixture: any TokenFixture) throws -> TokenJSON {
        try TokenJSON.listed(test.label, modules: [fixture.modulePath])
    }

    func objects(_ test: TestToken, fixture: any TokenFixture, source: String, environment: [String: String] = [:])
        throws -> RunResult
    {
        try CLI.run(
            ["objects", "pkcs11:token=\(test.label)", "--pin-source", source, "--module", fixture.modulePath],
            environment: environment)
    }

    @Test(
        "file:DIR, a missing file, an empty file, a lone newline, fd:77, fd:1, env:EMPTY and an unset variable: exit 2, no try spent",
        arguments: TokenFixtures.all)
    func emptySources(fixture: any TokenFixture) throws {
        let test = try fixture.freshToken()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cb-empty-pin-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let newline = dir.appendingPathComponent("newline").path
        _ = FileManager.default.createFile(atPath: newline, contents: Data("\n".utf8))

        let sources = [
            "file:\(dir.path)", "file:\(dir.path)/missing", "file:\(empty)", "file:\(newline)",
            "fd:77", "fd:1", "env:CB_EMPTY_PIN", "env:CB_UNSET_PIN_\(getpid())",
        ]
        for source in sources {
            let result = try objects(test, fixture: fixture, source: source, environment: ["CB_EMPTY_PIN": ""])
            #expect(result.status == 2, "\(source): \(result.status) \(result.stderr)")
            #expect(!result.stderr.contains("wrong PIN"), "\(source): \(result.stderr)")
            let after = try state(of: test, fixture: fixture)
            #expect(after.pinState == "ok", "\(source) spent a try on \(fixture)")
            #expect(!after.flags.contains("user-pin-count-low"), "\(source): \(after.flags)")
        }

        // The check can fail: a wrong PIN does show.
        let wrong = try objects(test, fixture: fixture, source: "env:PIN", environment: ["PIN": "0000"])
        #expect(wrong.status == 4, "\(wrong.stderr)")
        #expect(try state(of: test, fixture: fixture).pinState == "count-low")
    }

    @Test("file:/dev/zero and a 100 MB file are refused within a second; a right PIN in a file still works")
    func endlessSources() throws {
        let fixture = SoftHSMFixture()
        let test = try fixture.freshToken()
        let big = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cb-big-pin-\(getpid())-\(UUID().uuidString)"
        ).path
        _ = FileManager.default.createFile(atPath: big, contents: Data())
        defer { unlink(big) }
        #expect(truncate(big, 100 << 20) == 0)
        // What a refusal costs anyway (start, module load), so the limit is on the reading alone.
        let baselineStart = Date()
        _ = try objects(test, fixture: fixture, source: "fd:77")
        let baseline = Date().timeIntervalSince(baselineStart)
        for source in ["file:/dev/zero", "file:\(big)"] {
            let start = Date()
            let result = try objects(test, fixture: fixture, source: source)
            let elapsed = Date().timeIntervalSince(start)
            #expect(result.status == 2, "\(source): \(result.stderr)")
            #expect(result.stderr.contains("4096 bytes"), "\(source): \(result.stderr)")
            #expect(elapsed < baseline + 1.0, "\(source) took \(elapsed) s (a refusal without reading: \(baseline) s)")
        }
        #expect(try state(of: test, fixture: fixture).pinState == "ok")

        let right = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cb-right-pin-\(getpid())-\(UUID().uuidString)"
        ).path
        _ = FileManager.default.createFile(
            atPath: right, contents: Data("\(test.userPIN)\nrest of the file\n".utf8),
            attributes: [.posixPermissions: 0o600])
        defer { unlink(right) }
        let ok = try objects(test, fixture: fixture, source: "file:\(right)")
        #expect(ok.status == 0, "\(ok.stderr)")
    }
}
