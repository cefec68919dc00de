import Foundation
import TestSupport
import Testing

/// Labels, friendly names and token labels come from tokens and files: printed, their control
/// characters are visible escapes, never sent to the terminal; JSON escapes DEL and C1 too.
@Suite("Printing untrusted text")
struct UntrustedTextTests {
    static let escape = "\u{1B}"
    static let hostileName = "\u{1B}[2J\nverdict: non-exportable\u{202E}x"

    func expectClean(_ output: String, _ what: String) {
        #expect(!output.contains(Self.escape), "\(what) sent a raw ESC: \(output.debugDescription)")
        #expect(
            !output.unicodeScalars.contains {
                $0.value == 0x202E || $0.value == 0x7F || (0x80...0x9F).contains($0.value)
            },
            "\(what) sent a raw control: \(output.debugDescription)")
        let fake = output.split(separator: "\n").contains {
            $0.trimmingCharacters(in: .whitespaces) == "verdict: non-exportable"
        }
        #expect(!fake, "\(what) printed the fake verdict line: \(output)")
    }

    @Test(
        "a hostile friendly name in pfx inspect, import --exportable and objects; a hostile token label in tokens; DEL and C1 escaped in JSON"
    )
    func escapes() throws {
        let test = try SoftHSM.freshToken(label: "\u{1B}[2Jtok-\(UInt16.random(in: 0...UInt16.max))")
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, name: Self.hostileName, in: dir)
        let softhsm = ["--module", SoftHSM.modulePath]
        let tokenURI = "pkcs11:token=\(test.label.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"

        let inspect = try CLI.run(["pfx", "inspect", pfx.path, "--password-source", "file:\(pfx.passwordFile)"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        expectClean(inspect.stdout + inspect.stderr, "pfx inspect")
        #expect(inspect.stdout.contains("\\x1b[2J\\nverdict: non-exportable\\u{202e}x"), "\(inspect.stdout)")

        let imported = try CLI.run(
            [
                "import", pfx.path, "--token", tokenURI, "--exportable", "--password-source",
                "file:\(pfx.passwordFile)",
                "--pin-source", "env:PIN",
            ] + softhsm, environment: ["PIN": test.userPIN])
        #expect(imported.status == 0, "\(imported.stderr)")
        expectClean(imported.stdout + imported.stderr, "import")
        #expect(imported.stdout.contains("\\x1b[2J"), "\(imported.stdout)")

        let objects = try CLI.run(
            ["objects", tokenURI, "--pin-source", "env:PIN"] + softhsm, environment: ["PIN": test.userPIN])
        #expect(objects.status == 0, "\(objects.stderr)")
        expectClean(objects.stdout + objects.stderr, "objects")

        let tokens = try CLI.run(["tokens"] + softhsm)
        expectClean(tokens.stdout + tokens.stderr, "tokens")
        #expect(tokens.stdout.contains("\\x1b[2Jtok-"), "\(tokens.stdout)")

        // DEL and C1 (CSI, U+009B) in a label: JSON escapes them, as JSONEncoder does ESC.
        let pfx2 = try PFXFixture.make(ec: "prime256v1", chain: false, in: dir)
        let label = "del\u{7F}csi\u{9B}2J"
        let second = try CLI.run(
            [
                "import", pfx2.path, "--token", tokenURI, "--label", label, "--password-source",
                "file:\(pfx2.passwordFile)",
                "--pin-source", "env:PIN", "--json",
            ] + softhsm, environment: ["PIN": test.userPIN])
        #expect(second.status == 0, "\(second.stderr)")
        let json = try CLI.run(
            ["objects", tokenURI, "--pin-source", "env:PIN", "--json"] + softhsm, environment: ["PIN": test.userPIN])
        expectClean(json.stdout + second.stdout, "objects --json")
        #expect(json.stdout.contains("del\\u007fcsi\\u009b2J"), "\(json.stdout)")
        #expect(json.stdout.contains("\\u001b[2J"), "\(json.stdout)")
        struct Entry: Decodable { let label: String }
        let decoded = try JSONDecoder().decode([Entry].self, from: json.stdoutData)
        #expect(decoded.contains { $0.label == label })
    }
}
