import Foundation
import TestSupport
import Testing

/// `enroll verify` and High-level enrollment keys: the key is made on the token (CKA_LOCAL) with
/// the policy asked for, its request is signed there with the key's own approval, and the
/// round trip proves the password.
@Suite("enroll verify and High enrollment keys through the CLI")
struct EnrollVerifyTests {
    struct FlagsJSON: Decodable {
        let extractable: Bool?
        let alwaysAuthenticate: Bool?
        let local: Bool?
        let neverExtractable: Bool?
    }
    struct ObjectJSON: Decodable {
        let `class`: String
        let label: String
        let flags: FlagsJSON?
        let securityLevel: String?
    }
    struct Pending: Decodable {
        let uri: String
        let exportable: Bool
        let securityLevel: String
        let record: Record
    }
    struct Record: Decodable {
        let label: String
        let subject: String
        let subjectAlternativeNames: [String]
        let created: Date
    }

    let module = ["--module", SoftHSM.modulePath]

    @Test(
        "a High enrollment key: generated on the token, CSR signed with its approval and accepted by openssl; verify passes with the right key password and exits 4 with a wrong one",
        arguments: ["ec:p384", "rsa:2048"])
    func highKey(key: String) throws {
        let dir = try TemporaryDirectory()
        let test = try SoftHSM.freshToken()
        let env = ["PIN": test.userPIN]
        let pin = ["--pin-source", "env:PIN"] + module
        let csr = dir.file("high.csr")
        let started = Date()
        let made = try CLI.run(
            [
                "enroll", "new", "--subject", "CN=high.example,O=Example", "--san", "DNS:high.example", "--key", key,
                "--security-level", "high", "--token", "pkcs11:token=\(test.label)", "-o", csr,
                "--key-password-source", "env:PIN",
            ] + pin, environment: env)
        try #require(made.status == 0, "\(made.stderr)")
        let verified = try run("openssl", ["req", "-in", csr, "-verify", "-noout", "-subject"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect((verified.stdout + verified.stderr).contains("verify OK"))

        let objects = try CLI.json(
            [ObjectJSON].self, ["objects", "pkcs11:token=\(test.label);type=private"] + pin, environment: env)
        let generated = try #require(objects.first { $0.label == "high.example" })
        #expect(generated.flags?.local == true, "made on the token")
        #expect(generated.flags?.alwaysAuthenticate == true && generated.securityLevel == "high")
        #expect(generated.flags?.extractable == false && generated.flags?.neverExtractable == true)

        let pending = try CLI.json(
            [Pending].self, ["enroll", "list", "--token", "pkcs11:token=\(test.label)"] + pin, environment: env)
        let entry = try #require(pending.first)
        #expect(pending.count == 1)
        #expect(entry.securityLevel == "high" && !entry.exportable)
        #expect(
            entry.record.subject == "CN=high.example,O=Example"
                && entry.record.subjectAlternativeNames == ["DNS:high.example"])
        #expect(abs(entry.record.created.timeIntervalSince(started)) < 120)

        let right = try CLI.run(
            ["enroll", "verify", entry.uri, "--key-password-source", "env:PIN"] + pin, environment: env)
        #expect(right.status == 0, "\(right.stdout) \(right.stderr)")
        #expect(right.stdout.contains("works, and the password is right"))

        let wrong = try CLI.run(
            ["enroll", "verify", entry.uri, "--key-password-source", "env:WRONG"] + pin,
            environment: env.merging(["WRONG": "not-the-password"]) { $1 })
        #expect(wrong.status == 4, "\(wrong.stdout) \(wrong.stderr)")
        #expect(wrong.stderr.contains("CKR_PIN_INCORRECT"))
        #expect(!wrong.stdout.contains("not-the-password") && !wrong.stderr.contains("not-the-password"))
    }

    @Test("enroll verify of a URI that names no key pair exits 5")
    func noSuchKey() throws {
        let test = try SoftHSM.freshToken()
        let result = try CLI.run(
            ["enroll", "verify", "pkcs11:token=\(test.label);object=nothing", "--pin-source", "env:PIN"] + module,
            environment: ["PIN": test.userPIN])
        #expect(result.status == 5, "\(result.stderr)")
    }

    @Test("an enrollment key whose request cannot be written leaves nothing behind")
    func unwritableRequest() throws {
        let dir = try TemporaryDirectory()
        let test = try SoftHSM.freshToken()
        let result = try CLI.run(
            [
                "enroll", "new", "--subject", "CN=nowhere", "--token", "pkcs11:token=\(test.label)",
                "-o", dir.file("no-such-dir/req.csr"), "--pin-source", "env:PIN",
            ] + module,
            environment: ["PIN": test.userPIN])
        #expect(result.status != 0)
        let session = try test.userSession()
        #expect(try session.findObjects([]).isEmpty, "key pair and pending record removed again")
    }
}
