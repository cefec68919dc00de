import CertStore
import Foundation
import TestSupport
import Testing

/// Where PINs and passwords come from, and how a new one typed twice is compared.
@Suite("secret sources")
struct SecretSourceTests {
    /// The bytes of a PIN, for comparing in a test (never done in the product).
    func bytes(_ pin: borrowing PIN) -> [UInt8] { pin.withUnsafeBytes { Array($0) } }

    @Test(
        "tty, file:, env: and fd: parse; anything else, argv-like ones included, is a usage error",
        arguments: [
            ("tty", true), ("file:/tmp/p", true), ("env:TOKEN_PIN", true), ("fd:3", true),
            ("1234", false), ("pin:1234", false), ("argv:1234", false), ("fd:-1", false), ("fd:x", false),
            ("file:", false), ("env", false),
        ])
    func parses(text: String, valid: Bool) {
        if valid {
            #expect(throws: Never.self) { _ = try SecretSource(text) }
            #expect((try? SecretSource(text))?.description == text)
        } else {
            let error = #expect(throws: StoreError.self) { _ = try SecretSource(text) }
            #expect(error?.code == .usage)
            #expect(
                error?.reason.contains("1234") == false, "the rejected text is not echoed: it may be the secret itself")
        }
    }

    @Test("the first line is the secret: a trailing newline or CRLF is not part of it, a second line is ignored")
    func firstLine() throws {
        let dir = try TemporaryDirectory()
        for (contents, expected) in [
            ("s3cret\n", "s3cret"), ("s3cret\r\n", "s3cret"), ("s3cret", "s3cret"), ("s3cret\nsecond\n", "s3cret"),
        ] {
            let path = try dir.write("secret-\(expected.count)-\(contents.count)", contents)
            let pin = try SecretSource("file:\(path)").read(prompt: "unused: ")
            #expect(bytes(pin) == Array(expected.utf8), "\(contents.debugDescription)")
        }
        // A lone newline is an empty secret: refused unless the caller allows one (a PFX password).
        let newline = try dir.write("secret-newline", "\n")
        let empty = #expect(throws: StoreError.self) { _ = try SecretSource("file:\(newline)").read(prompt: "") }
        #expect(empty?.code == .usage)
        #expect(bytes(try SecretSource("file:\(newline)").read(prompt: "", allowEmpty: true)).isEmpty)
        setenv("CERTBRIDGE_TEST_SECRET", "from-env", 1)
        #expect(bytes(try SecretSource("env:CERTBRIDGE_TEST_SECRET").read(prompt: "")) == Array("from-env".utf8))
        let missing = #expect(throws: StoreError.self) {
            _ = try SecretSource("env:CERTBRIDGE_NO_SUCH_VARIABLE").read(prompt: "")
        }
        #expect(missing?.code == .usage)
    }

    @Test("a new secret from a file or variable is read once; only a terminal asks twice")
    func readNewOnce() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("new", "only-once\nsomething else\n")
        #expect(bytes(try SecretSource("file:\(path)").readNew(prompt: "Password: ")) == Array("only-once".utf8))
    }

    @Test("PIN.matches is true only for the same bytes and the same length")
    func pinMatches() {
        let pin = PIN(bytes: Array("correct horse".utf8))
        // Non-copyable PINs cannot go into #expect's capture: compare first.
        func same(_ text: String) -> Bool { pin.matches(PIN(bytes: Array(text.utf8))) }
        #expect(same("correct horse"))
        #expect(!same("correct hors"))
        #expect(!same("correct horsf"))
        #expect(!same("correct horse!"))
        let empty = PIN(bytes: [])
        let emptyMatches = empty.matches(PIN(bytes: []))
        #expect(emptyMatches)
    }
}
