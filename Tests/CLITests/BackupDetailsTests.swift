import Foundation
import TestSupport
import Testing

/// The finer promises about backups: iteration counts shown and judged, certificates exported
/// alone in both encodings, and restored keys that sign as the originals did.
@Suite("backup details through the CLI")
struct BackupDetailsTests {
    let module = ["--module", SoftHSM.modulePath]

    /// `certbridge import` of a PFX onto `test`, the user PIN from the environment.
    func restore(_ pfx: String, password: String, onto test: TestToken) throws -> RunResult {
        try CLI.run(
            [
                "import", pfx, "--token", "pkcs11:token=\(test.label)", "--password-source", "file:\(password)",
                "--pin-source", "env:PIN",
            ] + module, environment: ["PIN": test.userPIN])
    }

    /// Signs `data` with a token key through the CLI and checks the signature with openssl
    /// against `publicKeyPEM` (a file holding the original public key).
    func signsAsOriginal(uri: String, test: TestToken, publicKeyPEM: String, dir: TemporaryDirectory) throws -> Bool {
        let data = try dir.write("data-\(test.label)", "restored keys sign as before \(UUID())\n")
        let sig = dir.file("sig-\(test.label)")
        let signed = try CLI.run(
            ["sign", uri, "--in", data, "--out", sig, "--mechanism", "ecdsa-sha256", "--pin-source", "env:PIN"]
                + module,
            environment: ["PIN": test.userPIN])
        guard signed.status == 0 else {
            Issue.record("sign: \(signed.stderr)")
            return false
        }
        return try run("openssl", ["dgst", "-sha256", "-verify", publicKeyPEM, "-signature", sig, data]).status == 0
    }

    @Test("pfx inspect shows every iteration count and warns about low ones, in text and JSON")
    func iterationCounts() throws {
        let dir = try TemporaryDirectory()
        let weak = try PFXFixture.make(ec: "prime256v1", chain: false, extra: ["-iter", "1500", "-nomaciter"], in: dir)
        let text = try CLI.run(["pfx", "inspect", weak.path, "--password-source", "file:\(weak.passwordFile)"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("PBES2/AES-256-CBC/PBKDF2-HMAC-SHA256, 1500 iterations"), "\(text.stdout)")
        #expect(text.stdout.contains("MAC: SHA256, 1 iterations"), "\(text.stdout)")
        #expect(text.stdout.contains("only 1500 iterations for the"))
        #expect(text.stdout.contains("only 1 iterations for the MAC"))

        struct Description: Decodable {
            let protection: [String]
            let mac: String?
            let warnings: [String]
        }
        let json = try CLI.json(
            Description.self, ["pfx", "inspect", weak.path, "--password-source", "file:\(weak.passwordFile)"])
        #expect(json.protection.allSatisfy { $0.hasSuffix("1500 iterations") } && !json.protection.isEmpty)
        #expect(json.warnings.contains { $0.contains("only 1 iterations for the MAC") })

        // openssl's defaults (2048 iterations) are shown as they are, and also judged low.
        let usual = try PFXFixture.make(ec: "prime256v1", chain: false, in: dir)
        let shown = try CLI.run(["pfx", "inspect", usual.path, "--password-source", "file:\(usual.passwordFile)"])
        #expect(shown.stdout.contains("2048 iterations"))
        #expect(!shown.stdout.contains("1500"))
    }

    @Test("--cert-only writes DER for .der and .cer and PEM for .pem, the same certificate, with no password asked")
    func certOnlyEncodings() throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: dir)
        let test = try SoftHSM.freshToken()
        let imported = try CLI.run(
            [
                "import", pfx.path, "--token", "pkcs11:token=\(test.label)", "--password-source",
                "file:\(pfx.passwordFile)",
                "--pin-source", "env:PIN", "--label", "alice",
            ] + module, environment: ["PIN": test.userPIN])
        try #require(imported.status == 0, "\(imported.stderr)")
        let fingerprint = { (path: String, form: String) in
            try run("openssl", ["x509", "-in", path, "-inform", form, "-noout", "-fingerprint", "-sha256"]).stdout
        }
        let original = try fingerprint(pfx.certificatePEM, "PEM")
        #expect(original.contains("Fingerprint"))
        for (name, form) in [("alice.der", "DER"), ("alice.cer", "DER"), ("alice.pem", "PEM")] {
            let out = dir.file(name)
            // The key is non-exportable: the certificate still exports, and no password is read
            // (an unreadable password source would fail the command).
            let result = try CLI.run(
                [
                    "export", "pkcs11:token=\(test.label);object=alice", "--cert-only", "-o", out,
                    "--password-source", "file:\(dir.file("no-such-file"))", "--pin-source", "env:PIN",
                ] + module,
                environment: ["PIN": test.userPIN])
            #expect(result.status == 0, "\(name): \(result.stderr)")
            #expect(try fingerprint(out, form) == original, "\(name) holds the certificate as \(form)")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
            #expect((bytes.first == 0x30) == (form == "DER"))
        }
    }

    @Test("an exported key restored onto a second token signs, and openssl verifies with the original certificate")
    func restoredKeySigns() throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: "prime256v1", in: dir)
        let first = try SoftHSM.freshToken()
        let second = try SoftHSM.freshToken()
        let imported = try CLI.run(
            [
                "import", pfx.path, "--token", "pkcs11:token=\(first.label)", "--password-source",
                "file:\(pfx.passwordFile)",
                "--pin-source", "env:PIN", "--label", "alice", "--exportable",
            ] + module, environment: ["PIN": first.userPIN])
        try #require(imported.status == 0, "\(imported.stderr)")
        let password = try dir.write("pass", "restore-me")
        let out = dir.file("alice.pfx")
        let exported = try CLI.run(
            [
                "export", "pkcs11:token=\(first.label);object=alice", "-o", out, "--password-source",
                "file:\(password)",
                "--pin-source", "env:PIN",
            ] + module, environment: ["PIN": first.userPIN])
        try #require(exported.status == 0, "\(exported.stderr)")
        let restored = try restore(out, password: password, onto: second)
        try #require(restored.status == 0, "\(restored.stderr)")
        let originalPublicKey = dir.file("original-pub.pem")
        try run("openssl", ["x509", "-in", pfx.certificatePEM, "-pubkey", "-noout", "-out", originalPublicKey])
        #expect(
            try signsAsOriginal(
                uri: "pkcs11:token=\(second.label);object=alice;type=private", test: second,
                publicKeyPEM: originalPublicKey, dir: dir))
    }

    @Test("an enrollment backup restores onto a second token as the same key: it signs for the CSR's public key")
    func enrollmentBackupRestoresSameKey() throws {
        let dir = try TemporaryDirectory()
        let first = try SoftHSM.freshToken()
        let second = try SoftHSM.freshToken()
        let csr = dir.file("pending.csr")
        let made = try CLI.run(
            [
                "enroll", "new", "--subject", "CN=pending.example", "--key", "ec:p256", "--exportable",
                "--token", "pkcs11:token=\(first.label)", "-o", csr, "--pin-source", "env:PIN",
            ] + module,
            environment: ["PIN": first.userPIN])
        try #require(made.status == 0, "\(made.stderr)")
        let password = try dir.write("pass", "enrollment-backup")
        let backup = dir.file("pending.pfx")
        let saved = try CLI.run(
            [
                "enroll", "backup", "pkcs11:token=\(first.label);object=pending.example", "-o", backup,
                "--password-source", "file:\(password)", "--pin-source", "env:PIN",
            ] + module, environment: ["PIN": first.userPIN])
        try #require(saved.status == 0, "\(saved.stderr)")
        let restored = try restore(backup, password: password, onto: second)
        try #require(restored.status == 0, "\(restored.stderr)")
        let requestPublicKey = dir.file("csr-pub.pem")
        let extracted = try run("openssl", ["req", "-in", csr, "-pubkey", "-noout", "-out", requestPublicKey])
        try #require(extracted.status == 0, "\(extracted.stderr)")
        #expect(
            try signsAsOriginal(
                uri: "pkcs11:token=\(second.label);object=pending.example;type=private", test: second,
                publicKeyPEM: requestPublicKey, dir: dir))
    }
}
