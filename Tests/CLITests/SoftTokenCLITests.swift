import Foundation
import TestSupport
import Testing

/// The software token through the CLI: the README's main job, a token made by `softtoken init`,
/// keys with a password of their own, and the software token as the fallback target.
@Suite("the software token through the CLI")
struct SoftTokenCLITests {
    /// A private software token store for one test, and certbridge run against it alone.
    struct Rig {
        let dir: TemporaryDirectory
        let store: String

        init() throws {
            dir = try TemporaryDirectory()
            store = dir.file("softtoken")
            try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
            try dir.write("pin", "1234\n")
            try dir.write("so-pin", "87654321\n")
            try dir.write("key-password", "for this key only\n")
        }

        var environment: [String: String] {
            ["CERTBRIDGE_SOFTTOKEN_DIR": store, "CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS": SoftTokenRig.iterations]
        }

        func certbridge(_ arguments: [String], input: String = "") throws -> RunResult {
            try run(
                CLI.path, arguments + ["--module", SoftTokenRig.modulePath], environment: environment,
                input: Data(input.utf8))
        }

        func initToken(_ label: String) throws -> RunResult {
            try certbridge([
                "softtoken", "init", "--label", label, "--new-pin-source", "file:\(dir.file("pin"))",
                "--so-pin-source", "file:\(dir.file("so-pin"))",
            ])
        }

        var pin: [String] { ["--pin-source", "file:\(dir.file("pin"))"] }
        var keyPassword: [String] { ["--key-password-source", "file:\(dir.file("key-password"))"] }
    }

    @Test("the README's main job (scripts/demo) runs on the software token with no hardware")
    func mainJob() throws {
        let dir = try TemporaryDirectory()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/demo").path
        let result = try run(
            "/bin/bash", [script, CLI.path],
            environment: [
                "CERTBRIDGE_DEMO_DIR": dir.path, "CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS": SoftTokenRig.iterations,
                "CERTBRIDGE_SOFTTOKEN_MODULE": SoftTokenRig.modulePath,
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("always-authenticate=yes"))
        #expect(result.stdout.contains("own-password=yes"))
        #expect(result.stdout.contains("is not exportable"))
        #expect(result.stdout.contains("test-sign passed."))
        for secret in ["pin", "so-pin", "pfx-password", "key-password"] {
            let value = try String(contentsOfFile: dir.file(secret), encoding: .utf8)
            #expect(!result.stdout.contains(value) && !result.stderr.contains(value), "the \(secret) is never shown")
        }
    }

    @Test("softtoken init makes a token that tokens lists; a second one with the same label is refused")
    func initToken() throws {
        let rig = try Rig()
        let made = try rig.initToken("Backup")
        #expect(made.status == 0, "\(made.stderr)")
        let tokens = try rig.certbridge(["tokens"])
        #expect(tokens.stdout.contains("token:         Backup"))
        #expect(tokens.stdout.contains("user-pin-initialized"))
        let again = try rig.initToken("Backup")
        #expect(again.status == 1)
        #expect(again.stderr.contains("exists already"))
    }

    @Test("a High key with its own password: test-sign needs that password, the token PIN is refused (exit 4)")
    func keyPassword() throws {
        let rig = try Rig()
        #expect(try rig.initToken("Backup").status == 0)
        let pfx = try PFXFixture.make(ec: "prime256v1", in: rig.dir)
        let imported = try rig.certbridge(
            [
                "import", pfx.path, "--security-level", "high", "--label", "alice",
                "--password-source", "file:\(pfx.passwordFile)",
            ] + rig.pin + rig.keyPassword)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("own-password=yes"))
        #expect(imported.stdout.contains("onto \"Backup\""), "with one token present, the import needs no --token")

        let uri = "pkcs11:token=Backup;object=alice"
        let good = try rig.certbridge(["test-sign", uri] + rig.pin + rig.keyPassword)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("refuse-unapproved"))
        // A descriptor gives its line once; test-sign uses the password twice (sign, sign again).
        let fromDescriptor = try rig.certbridge(
            ["test-sign", uri] + rig.pin + ["--key-password-source", "fd:0"], input: "for this key only\n")
        #expect(fromDescriptor.status == 0, "\(fromDescriptor.stdout)\(fromDescriptor.stderr)")
        #expect(fromDescriptor.stdout.contains("ok   sign-again"))
        let withPIN = try rig.certbridge(
            ["test-sign", uri] + rig.pin + ["--key-password-source", "file:\(rig.dir.file("pin"))"])
        #expect(withPIN.status == 4)
        #expect(withPIN.stderr.contains("CKR_PIN_INCORRECT"))
    }

    @Test("an exportable key with its own password exports only with that password; openssl opens the PFX")
    func exportWithKeyPassword() throws {
        let rig = try Rig()
        #expect(try rig.initToken("Backup").status == 0)
        let pfx = try PFXFixture.make(rsaBits: 2048, chain: false, in: rig.dir)
        #expect(
            try rig.certbridge(
                [
                    "import", pfx.path, "--security-level", "high", "--exportable", "--label", "bob",
                    "--password-source", "file:\(pfx.passwordFile)",
                ] + rig.pin + rig.keyPassword
            ).status == 0)
        let uri = "pkcs11:token=Backup;object=bob"
        let output = rig.dir.file("bob.pfx")
        let without = try rig.certbridge(
            ["export", uri, "-o", output, "--password-source", "file:\(pfx.passwordFile)"] + rig.pin)
        #expect(without.status == 2)
        #expect(without.stderr.contains("--key-password-source"))
        #expect(!FileManager.default.fileExists(atPath: output))
        let wrong = try rig.certbridge(
            [
                "export", uri, "-o", output, "--password-source", "file:\(pfx.passwordFile)",
                "--key-password-source", "file:\(rig.dir.file("so-pin"))",
            ] + rig.pin)
        #expect(wrong.status == 4)
        #expect(!FileManager.default.fileExists(atPath: output))
        let exported = try rig.certbridge(
            ["export", uri, "-o", output, "--password-source", "file:\(pfx.passwordFile)"] + rig.pin + rig.keyPassword)
        #expect(exported.status == 0, "\(exported.stderr)")
        let opened = try run(
            "openssl", ["pkcs12", "-in", output, "-passin", "file:\(pfx.passwordFile)", "-nodes", "-nocerts"])
        #expect(opened.status == 0 && opened.stdout.contains("PRIVATE KEY"))
        let original = try run("openssl", ["pkey", "-in", pfx.keyPEM, "-pubout"]).stdout
        let restored = try run("openssl", ["pkey", "-pubout"], input: opened.stdoutData).stdout
        #expect(!original.isEmpty && original == restored, "the exported key is the imported one")
    }

    @Test("objects and check-exportable without a token in the URI pass over the empty slot kept for new tokens")
    func emptySlotIsSkipped() throws {
        let rig = try Rig()
        #expect(try rig.initToken("Backup").status == 0)
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: rig.dir)
        #expect(
            try rig.certbridge(
                ["import", pfx.path, "--label", "carol", "--password-source", "file:\(pfx.passwordFile)"] + rig.pin
            ).status == 0)
        let listed = try rig.certbridge(["objects"] + rig.pin)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("private-key:  carol"))
        let checked = try rig.certbridge(["check-exportable", "pkcs11:object=carol"] + rig.pin)
        #expect(checked.status == 3, "\(checked.stderr)")
    }

    @Test(
        "a certificate's object file changed in place on disk: tokens and objects say that one object failed its integrity check (exit 1), and objects leaves it out"
    )
    func tamperedFileIsReported() throws {
        let rig = try Rig()
        #expect(try rig.initToken("Tamper").status == 0)
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: rig.dir)
        let imported = try rig.certbridge(
            ["import", pfx.path, "--label", "dave", "--password-source", "file:\(pfx.passwordFile)"] + rig.pin)
        try #require(imported.status == 0, "\(imported.stderr)")
        #expect(try rig.certbridge(["tokens"]).status == 0)

        // The certificate's file holds its DER in the clear: one byte of it changed, in place.
        let der = try run("openssl", ["x509", "-in", pfx.certificatePEM, "-outform", "DER"]).stdoutData
        let serial = try #require(try FileManager.default.contentsOfDirectory(atPath: rig.store).first)
        let folder = rig.store + "/" + serial + "/objects"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).map { folder + "/" + $0 }
        let file = try #require(
            files.first { (FileManager.default.contents(atPath: $0) ?? Data()).range(of: der) != nil })
        let at = try #require(FileManager.default.contents(atPath: file)?.range(of: der)).lowerBound + der.count / 2
        let handle = try #require(FileHandle(forUpdatingAtPath: file))
        try handle.seek(toOffset: UInt64(at))
        let byte = try #require(try handle.read(upToCount: 1)?.first) ^ 0x01
        try handle.seek(toOffset: UInt64(at))
        try handle.write(contentsOf: Data([byte]))
        try handle.close()

        let tokens = try rig.certbridge(["tokens"])
        #expect(tokens.status == 1)
        #expect(tokens.stderr.contains("1 object failed its integrity check"), "\(tokens.stderr)")
        #expect(tokens.stdout.contains("token:         Tamper"), "the tokens are still listed")
        let objects = try rig.certbridge(["objects", "pkcs11:token=Tamper"] + rig.pin)
        #expect(objects.status == 1)
        #expect(objects.stderr.contains("1 object failed its integrity check"), "\(objects.stderr)")
        #expect(objects.stdout.contains("private-key:  dave"))
        #expect(!objects.stdout.contains("certificate:  dave"), "the changed certificate is not offered")
    }

    @Test("with no token at all and no terminal, import says how to make the software token (exit 5)")
    func noTokenYet() throws {
        let rig = try Rig()
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: rig.dir)
        let result = try rig.certbridge(
            ["import", pfx.path, "--password-source", "file:\(pfx.passwordFile)"] + rig.pin)
        #expect(result.status == 5)
        #expect(result.stderr.contains("certbridge softtoken init"))
    }

    @Test(
        "first use on a terminal: with no token at all, import makes the software token, asking a new SO PIN and PIN twice each"
    )
    func firstUseOnTerminal() throws {
        let rig = try Rig()
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: rig.dir)
        let password = try String(contentsOfFile: pfx.passwordFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        let shown = try TerminalPasswordTests.onTerminal(
            ["import", pfx.path, "--label", "alice", "--module", SoftTokenRig.modulePath],
            answers: [
                ("Password for", password), ("New SO PIN", "so-Secret-77"), ("Confirm new SO PIN", "so-Secret-77"),
                ("New PIN", "pin-Secret-88"), ("Confirm new PIN", "pin-Secret-88"), ("PIN for token", "pin-Secret-88"),
            ],
            environment: rig.environment)
        #expect(shown.status == 0, "\(shown.stdout)")
        #expect(shown.stdout.contains("making the software token \"CertBridge\""))
        #expect(shown.stdout.contains("onto \"CertBridge\""))
        #expect(
            !shown.stdout.contains("so-Secret-77") && !shown.stdout.contains("pin-Secret-88"), "nothing typed is echoed"
        )
        // The new PIN is the token's PIN from now on.
        try rig.dir.write("new-pin", "pin-Secret-88\n")
        let listed = try rig.certbridge([
            "objects", "pkcs11:token=CertBridge", "--pin-source", "file:\(rig.dir.file("new-pin"))",
        ])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("private-key:  alice"))
    }

    @Test("a key password is refused on a token without per-key passwords (SoftHSM2), and nothing is written")
    func keyPasswordElsewhere() throws {
        let test = try SoftHSM.freshToken()
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: dir)
        try dir.write("key-password", "secret\n")
        let result = try CLI.run(
            [
                "import", pfx.path, "--token", "pkcs11:token=\(test.label)", "--security-level", "high",
                "--password-source", "file:\(pfx.passwordFile)", "--key-password-source",
                "file:\(dir.file("key-password"))",
                "--pin-source", "env:PIN", "--module", SoftHSM.modulePath,
            ], environment: ["PIN": test.userPIN])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no per-key passwords"))
        #expect(try test.userSession().findObjects([]).isEmpty)
    }
}
