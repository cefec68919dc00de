import Foundation
import TestSupport
import Testing

/// What a new user meets first: `--version`, JSON errors for scripts, colour only for a person,
/// examples that survive copying, the old option spellings, and prompts that say what they want.
@Suite("first contact")
struct FirstContactTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs certbridge on a pseudo-terminal, answering prompts (see TerminalPasswordTests).
    static func onTerminal(
        _ arguments: [String], answers: [(prompt: String, answer: String)], environment: [String: String]
    ) throws -> RunResult {
        try TerminalPasswordTests.onTerminal(arguments, answers: answers, environment: environment)
    }

    @Test("--version prints the VERSION file's release, and the commit when built from a git checkout")
    func version() throws {
        let result = try CLI.run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        let release = try String(contentsOf: Self.repository.appendingPathComponent("VERSION"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let words = result.stdout.split(separator: " ")
        #expect(words.first.map(String.init) == release, "\(result.stdout)")
        if FileManager.default.fileExists(atPath: Self.repository.appendingPathComponent(".git").path) {
            let head = try run("git", ["-C", Self.repository.path, "rev-parse", "--short=12", "HEAD"])
            try #require(head.status == 0)
            #expect(
                result.stdout.contains("(git \(head.stdout.trimmingCharacters(in: .whitespacesAndNewlines))"),
                "\(result.stdout)")
        }
    }

    struct JSONError: Decodable {
        struct Detail: Decodable {
            let code: Int
            let message: String
        }
        let error: Detail
    }

    @Test("with --json a failure is {\"error\": {\"code\", \"message\"}} on stdout and the sentence on stderr")
    func jsonErrors() throws {
        let missing = try CLI.run([
            "objects", "pkcs11:token=No%20Such%20Token", "--json", "--module", SoftHSM.modulePath,
        ])
        #expect(missing.status == 5)
        let failure = try JSONDecoder().decode(JSONError.self, from: missing.stdoutData)
        #expect(failure.error.code == 5)
        #expect(failure.error.message.contains("No%20Such%20Token"))
        // The same sentence (its list of tokens present is printed with their labels escaped).
        let sentence = String(failure.error.message.prefix { $0 != ";" })
        #expect(
            missing.stderr.contains("certbridge: error: ") && missing.stderr.contains(sentence), "\(missing.stderr)")

        let usage = try CLI.run(["import", "--json"])
        #expect(usage.status == 2)
        let usageFailure = try JSONDecoder().decode(JSONError.self, from: usage.stdoutData)
        #expect(usageFailure.error.code == 2, "\(usage.stdout)")
        #expect(!usageFailure.error.message.isEmpty)

        let plain = try CLI.run(["objects", "pkcs11:token=No%20Such%20Token", "--module", SoftHSM.modulePath])
        #expect(plain.status == 5)
        #expect(plain.stdout.isEmpty, "without --json stdout stays empty: \(plain.stdout)")
    }

    @Test("the old spellings --output and --chain still work, hidden from help")
    func hiddenAliases() throws {
        let dir = try TemporaryDirectory()
        let export = try CLI.run([
            "export", "pkcs11:token=No%20Such%20Token;object=x", "--output", dir.file("x.pfx"),
            "--module", SoftHSM.modulePath,
        ])
        #expect(export.status == 5, "--output is taken as --out; the token is what is missing: \(export.stderr)")
        let install = try CLI.run([
            "install-cert", dir.file("missing.pem"), "--chain", dir.file("chain.pem"), "--module", SoftHSM.modulePath,
        ])
        #expect(
            install.status != 2 && !install.stderr.contains("Unknown option"),
            "--chain is taken as --chain-file: \(install.stderr)")
        let exportHelp = try CLI.run(["export", "--help"])
        #expect(exportHelp.stdout.contains("-o, --out <FILE>") && !exportHelp.stdout.contains("--output"))
        let installHelp = try CLI.run(["install-cert", "--help"])
        #expect(installHelp.stdout.contains("--chain-file <FILE>") && !installHelp.stdout.contains("--chain <"))
    }

    @Test("with no terminal, the PIN prompt's error reads as a sentence and names the option to use")
    func noTerminalSentence() throws {
        let test = try SoftHSM.freshToken()
        let result = try run(
            "/usr/bin/setsid",
            ["--wait", CLI.path, "objects", "pkcs11:token=\(test.label)", "--module", SoftHSM.modulePath],
            environment: try SoftHSM.environment(), input: Data())
        #expect(result.status == 2)
        #expect(
            result.stderr.contains(
                "there is no terminal to ask for the PIN for token \"\(test.label)\"; give --pin-source"),
            "\(result.stderr)")
    }

    @Test(
        "softtoken init on a terminal states the PIN rules first, asks again after a short PIN or a mismatch, and gives up after 3"
    )
    func softTokenInitAsksAgain() throws {
        let store = try PrivateSoftTokenStore()
        let args = ["softtoken", "init", "--label", "Asked", "--module", SoftTokenRig.modulePath]
        let made = try Self.onTerminal(
            args,
            answers: [
                ("New SO PIN", "123"),  // too short: said, asked again
                ("New SO PIN", "so-pin-1"), ("Confirm new SO PIN", "so-pin-2"),  // mismatch: asked again
                ("New SO PIN", "so-pin-1"), ("Confirm new SO PIN", "so-pin-1"),
                ("New PIN", "user-pin"), ("Confirm new PIN", "user-pin"),
            ], environment: store.environment)
        #expect(made.status == 0, "\(made.stdout)")
        let rules = try #require(made.stdout.range(of: "Each has 4 to 255 characters"), "\(made.stdout)")
        let firstPrompt = try #require(made.stdout.range(of: "New SO PIN"))
        #expect(rules.lowerBound < firstPrompt.lowerBound, "the rules come before the first question")
        #expect(made.stdout.contains("That PIN is refused: a software token PIN has 4 to 255 characters. Try again."))
        #expect(made.stdout.contains("The two entries did not match. Try again."))
        #expect(made.stdout.contains("Made the software token \"Asked\""))
        #expect(!made.stdout.contains("so-pin-1") && !made.stdout.contains("user-pin"), "nothing typed is echoed")

        let refused = try Self.onTerminal(
            ["softtoken", "init", "--label", "Refused", "--module", SoftTokenRig.modulePath],
            answers: [
                ("New SO PIN", "aaaa1"), ("Confirm new SO PIN", "bbbb1"),
                ("New SO PIN", "aaaa2"), ("Confirm new SO PIN", "bbbb2"),
                ("New SO PIN", "aaaa3"), ("Confirm new SO PIN", "bbbb3"),
            ], environment: store.environment)
        #expect(refused.status == 2, "\(refused.stdout)")
        #expect(refused.stdout.contains("the two entries did not match"))
    }

    @Test("a wrong PFX password typed on a terminal is asked again, up to 3 times")
    func pfxPasswordAskedAgain() throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(chain: false, in: dir)
        let password = try String(contentsOfFile: pfx.passwordFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        let prompt = "Password for \(pfx.path)"
        let opened = try Self.onTerminal(
            ["pfx", "inspect", pfx.path], answers: [(prompt, "wrong-1"), (prompt, "wrong-2"), (prompt, password)],
            environment: [:])
        #expect(opened.status == 0, "\(opened.stdout)")
        #expect(
            opened.stdout.components(separatedBy: "Wrong password for").count == 3,
            "two wrong tries are said: \(opened.stdout)")

        let refused = try Self.onTerminal(
            ["pfx", "inspect", pfx.path], answers: [(prompt, "wrong-1"), (prompt, "wrong-2"), (prompt, "wrong-3")],
            environment: [:])
        #expect(refused.status == 4, "\(refused.stdout)")

        let fromFile = try CLI.run(
            ["pfx", "inspect", pfx.path, "--password-source", "env:WRONG"], environment: ["WRONG": "wrong"])
        #expect(fromFile.status == 4, "a password from a source is tried once")
    }
}
