import Foundation
import TestSupport
import Testing

/// `enroll verify` and High-level enrollment keys: the key is made on the token (CKA_LOCAL) with
/// the policy asked for, its request is signed there with the key's own approval, and the
/// round trip proves the password.
@Suite("enroll verify and High enrollment keys through the CLI")
struct EnrollVerifyTests {
    @Test(
        "a High enrollment key: generated on the token, CSR signed with its approval and accepted by openssl; verify passes with the right key password and exits 4 with a wrong one",
        arguments: ["ec:p384", "rsa:2048"])
    func highKey(key: String) throws {
        let cli = try TokenCLI.softHSM()
        let csr = cli.dir.file("high.csr")
        let started = Date()
        let made = try cli.run([
            "enroll", "new", "--subject", "CN=high.example,O=Example", "--san", "DNS:high.example", "--key", key,
            "--security-level", "high", "--token", cli.tokenURI, "-o", csr, "--key-password-source", "env:PIN",
        ])
        try #require(made.status == 0, "\(made.stderr)")
        let verified = try run("openssl", ["req", "-in", csr, "-verify", "-noout", "-subject"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect((verified.stdout + verified.stderr).contains("verify OK"))

        let objects = try cli.objects(";type=private")
        let generated = try #require(objects.first { $0.label == "high.example" })
        #expect(generated.flags?.local == true, "made on the token")
        #expect(generated.flags?.alwaysAuthenticate == true && generated.securityLevel == "high")
        #expect(generated.flags?.extractable == false && generated.flags?.neverExtractable == true)

        let pending = try cli.json([PendingJSON].self, ["enroll", "list", "--token", cli.tokenURI])
        let entry = try #require(pending.first)
        #expect(pending.count == 1)
        #expect(entry.securityLevel == "high" && !entry.exportable)
        #expect(
            entry.record.subject == "CN=high.example,O=Example"
                && entry.record.subjectAlternativeNames == ["DNS:high.example"])
        #expect(abs(entry.record.created.timeIntervalSince(started)) < 120)

        let right = try cli.run(["enroll", "verify", entry.uri, "--key-password-source", "env:PIN"])
        #expect(right.status == 0, "\(right.stdout) \(right.stderr)")
        #expect(right.stdout.contains("works, and the password is right"))

        let wrong = try cli.run(
            ["enroll", "verify", entry.uri, "--key-password-source", "env:WRONG"],
            environment: ["WRONG": "not-the-password"])
        #expect(wrong.status == 4, "\(wrong.stdout) \(wrong.stderr)")
        #expect(wrong.stderr.contains("CKR_PIN_INCORRECT"))
        #expect(!wrong.stdout.contains("not-the-password") && !wrong.stderr.contains("not-the-password"))
    }

    @Test("enroll verify of a URI that names no key pair exits 5")
    func noSuchKey() throws {
        let cli = try TokenCLI.softHSM()
        let result = try cli.run(["enroll", "verify", cli.uri("nothing")])
        #expect(result.status == 5, "\(result.stderr)")
    }

    @Test("an enrollment key whose request cannot be written leaves nothing behind")
    func unwritableRequest() throws {
        let cli = try TokenCLI.softHSM()
        let result = try cli.run(
            [
                "enroll", "new", "--subject", "CN=nowhere", "--token", cli.tokenURI, "-o",
                cli.dir.file("no-such-dir/req.csr"),
            ])
        #expect(result.status != 0)
        let session = try cli.test.userSession()
        #expect(try session.findObjects([]).isEmpty, "key pair and pending record removed again")
    }
}
