import Foundation
import PKCS11
import TestSupport
import Testing

/// PINs and passwords never come from argv and never come out: every command's stdout and
/// stderr, text and JSON, are searched for a PIN and a password that could not occur by chance.
@Suite("no secret in argv or output")
struct SecretHygieneTests {
    @Test(
        "there is no option that takes a PIN or password on the command line",
        arguments: [
            ["objects", "--pin", "4321"], ["import", "x.pfx", "--password", "4321"],
            ["export", "pkcs11:token=t", "-o", "x.pfx", "--pass", "4321"],
            ["sign", "pkcs11:token=t", "--in", "a", "--out", "b", "--key-password", "4321"],
        ])
    func noSecretOptions(arguments: [String]) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("Unknown option"), "\(result.stderr)")
    }

    @Test("a day's commands, text and JSON, never print the PIN or the PFX password")
    func nothingPrinted() throws {
        let dir = try TemporaryDirectory()
        let test = try SoftHSM.freshToken()
        let pin = "Pin-\(UUID().uuidString.prefix(8))"
        do {
            let session = try test.userSession()
            try session.changePIN(old: test.pin, new: PIN(bytes: Array(pin.utf8)))
            try session.logout()
        }
        let pfx = try PFXFixture.make(ec: "prime256v1", password: "Pfx-\(UUID().uuidString.prefix(8))", in: dir)
        let password = try String(contentsOfFile: pfx.passwordFile, encoding: .utf8)
        let exportPassword = try dir.write("export-pass", "Exp-\(UUID().uuidString.prefix(8))")
        let token = "pkcs11:token=\(test.label)"
        let key = "\(token);object=alice"
        let common = ["--pin-source", "env:PIN", "--module", SoftHSM.modulePath]
        let data = try dir.write("data", "sign me\n")
        let commands: [[String]] = [
            ["tokens"],
            ["pfx", "inspect", pfx.path, "--password-source", "file:\(pfx.passwordFile)"],
            [
                "import", pfx.path, "--token", token, "--password-source", "file:\(pfx.passwordFile)", "--label",
                "alice", "--exportable", "--security-level", "high",
            ],
            ["objects", token],
            ["check-exportable", key],
            ["export", key, "-o", dir.file("out.pfx"), "--password-source", "file:\(exportPassword)"],
            ["sign", key, "--in", data, "--out", dir.file("sig"), "--key-password-source", "env:PIN"],
            ["test-sign", key, "--key-password-source", "env:PIN"],
            ["enroll", "new", "--subject", "CN=hygiene", "--token", token, "-o", dir.file("req.csr")],
            ["enroll", "list", "--token", token],
        ]
        let secrets = [pin, password, try String(contentsOfFile: exportPassword, encoding: .utf8)]
        var ran = 0
        for command in commands {
            for json in [false, true] {
                let arguments = command + common + (json ? ["--json"] : [])
                // Each file-writing command runs once; its JSON twin would find the file taken.
                if json && (command.contains("-o") || command.first == "import" || command.first == "sign") { continue }
                let result = try CLI.run(arguments, environment: ["PIN": pin])
                #expect(result.status == 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
                for secret in secrets {
                    #expect(
                        !result.stdout.contains(secret) && !result.stderr.contains(secret),
                        "certbridge \(command.first!) printed a secret")
                }
                ran += 1
            }
        }
        #expect(ran >= 14)

        // And a wrong PIN and a wrong password are named as such, not printed.
        let wrong = try CLI.run(
            ["objects", token, "--pin-source", "env:PIN", "--module", SoftHSM.modulePath],
            environment: ["PIN": pin + "x"])
        #expect(wrong.status == 4)
        #expect(!wrong.stderr.contains(pin))
    }
}
