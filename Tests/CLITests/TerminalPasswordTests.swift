import Foundation
import TestSupport
import Testing

/// Passwords typed on a real terminal (a pseudo-terminal that is the CLI's controlling tty): a new
/// backup password is asked twice and must match, and nothing typed is echoed.
@Suite("passwords on a terminal")
struct TerminalPasswordTests {
    /// Runs certbridge on a pty, answering each prompt only after it appears.
    static func onTerminal(
        _ arguments: [String], answers: [(prompt: String, answer: String)], environment: [String: String]
    ) throws -> RunResult {
        let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Terminal/answer-prompts.py").standardized.path
        let prompts = String(
            decoding: try JSONSerialization.data(withJSONObject: answers.map { [$0.prompt, $0.answer] }), as: UTF8.self)
        var env = try SoftHSM.environment()
        for (key, value) in environment { env[key] = value }
        env["CB_PROMPTS"] = prompts
        return try run("python3", [helper, CLI.path] + arguments, environment: env)
    }

    /// A token holding an exportable key labelled "alice".
    func exportableKey(in dir: TemporaryDirectory) throws -> TestToken {
        let pfx = try PFXFixture.make(chain: false, in: dir)
        let test = try SoftHSM.freshToken()
        let imported = try CLI.run(
            [
                "import", pfx.path, "--token", "pkcs11:token=\(test.label)", "--password-source",
                "file:\(pfx.passwordFile)",
                "--pin-source", "env:PIN", "--label", "alice", "--exportable", "--module", SoftHSM.modulePath,
            ],
            environment: ["PIN": test.userPIN])
        try #require(imported.status == 0, "\(imported.stderr)")
        return test
    }

    @Test(
        "export on a tty asks for the password twice; three mismatches are refused (exit 2) and write nothing; nothing typed is echoed"
    )
    func exportPasswordTwice() throws {
        let dir = try TemporaryDirectory()
        let test = try exportableKey(in: dir)
        let out = dir.file("alice.pfx")
        let args = [
            "export", "pkcs11:token=\(test.label);object=alice", "-o", out, "--pin-source", "env:PIN", "--module",
            SoftHSM.modulePath,
        ]

        // Asked again after each mismatch, 3 times in all.
        let mismatch = try Self.onTerminal(
            args,
            answers: [
                ("Password for", "first-Secret-1"), ("Confirm password for", "other-Secret-2"),
                ("Password for", "first-Secret-1"), ("Confirm password for", "other-Secret-2"),
                ("Password for", "first-Secret-1"), ("Confirm password for", "other-Secret-2"),
            ],
            environment: ["PIN": test.userPIN])
        #expect(mismatch.status == 2, "\(mismatch.stdout)")
        #expect(mismatch.stdout.contains("did not match"))
        #expect(
            !mismatch.stdout.contains("first-Secret-1") && !mismatch.stdout.contains("other-Secret-2"),
            "typed passwords are not echoed")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.contains("alice.pfx") },
            "no temporary file is left")

        let matched = try Self.onTerminal(
            args, answers: [("Password for", "same-Secret-3"), ("Confirm password for", "same-Secret-3")],
            environment: ["PIN": test.userPIN])
        #expect(matched.status == 0, "\(matched.stdout)")
        #expect(!matched.stdout.contains("same-Secret-3"))
        let password = try dir.write("pass", "same-Secret-3")
        let opened = try run("openssl", ["pkcs12", "-in", out, "-passin", "file:\(password)", "-noout"])
        #expect(opened.status == 0, "openssl opens the export with the password typed twice: \(opened.stderr)")
    }

    @Test("the token PIN asked on a tty is not echoed and is asked once")
    func pinOnTerminal() throws {
        let test = try SoftHSM.freshToken()
        let listed = try Self.onTerminal(
            ["objects", "pkcs11:token=\(test.label)", "--module", SoftHSM.modulePath],
            answers: [("PIN for token", test.userPIN)], environment: [:])
        #expect(listed.status == 0, "\(listed.stdout)")
        #expect(listed.stdout.contains("PIN for token \"\(test.label)\""))
        #expect(!listed.stdout.contains("\": \(test.userPIN)"), "the PIN typed after the prompt is not echoed")
        #expect(!listed.stdout.contains("Confirm"))
    }
}
