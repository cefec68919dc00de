import Foundation
import TestSupport
import Testing

/// `enroll new --security-level high --key-password-source SRC` on the software token: the key
/// gets a password of its own, as `import` gives one, and every use asks for that password.
@Suite("enrollment keys with their own password")
struct EnrollKeyPasswordTests {
    @Test("the key's own password approves its request and every later use; the token PIN no longer does")
    func ownPassword() throws {
        let fixture = SoftTokenFixture()
        let test = try fixture.freshToken()
        let dir = try TemporaryDirectory()
        let pinFile = try dir.write("pin", test.userPIN + "\n")
        let keyPassword = try dir.write("kp", "own key password\n")
        func cli(_ arguments: [String]) throws -> RunResult {
            try run(
                CLI.path, arguments + ["--module", fixture.modulePath, "--pin-source", "file:\(pinFile)"],
                environment: try fixture.environment())
        }
        let csr = dir.file("own.csr")
        let made = try cli([
            "enroll", "new", "--subject", "CN=own.example", "--key", "ec:p256", "--security-level", "high",
            "--key-password-source", "file:\(keyPassword)", "--token", "pkcs11:token=\(test.label)", "-o", csr,
        ])
        try #require(made.status == 0, "\(made.stderr)")
        #expect(try run("openssl", ["req", "-in", csr, "-noout", "-verify"]).status == 0)

        let objects = try CLI.json(
            [ObjectJSON].self,
            [
                "objects", "pkcs11:token=\(test.label);type=private", "--module", fixture.modulePath,
                "--pin-source", "file:\(pinFile)",
            ], environment: try fixture.environment())
        let key = try #require(objects.first { $0.label == "own.example" })
        #expect(
            key.flags?.ownPassword == true && key.flags?.alwaysAuthenticate == true, "\(String(describing: key.flags))")

        let uri = "pkcs11:token=\(test.label);object=own.example"
        let right = try cli(["enroll", "verify", uri, "--key-password-source", "file:\(keyPassword)"])
        #expect(right.status == 0, "\(right.stdout) \(right.stderr)")
        let withPIN = try cli(["enroll", "verify", uri, "--key-password-source", "file:\(pinFile)"])
        #expect(
            withPIN.status == 4,
            "the token PIN approved a key with its own password: \(withPIN.stdout) \(withPIN.stderr)")
    }

    @Test("a key password of its own on SoftHSM2 (no per-key passwords) keeps the old meaning: the approval source")
    func softHSMUsesPINApproval() throws {
        let test = try SoftHSM.freshToken()
        let dir = try TemporaryDirectory()
        let pinFile = try dir.write("pin", test.userPIN + "\n")
        let made = try run(
            CLI.path,
            [
                "enroll", "new", "--subject", "CN=hsm.example", "--security-level", "high", "--key-password-source",
                "file:\(pinFile)",
                "--token", "pkcs11:token=\(test.label)", "-o", dir.file("hsm.csr"), "--module", SoftHSM.modulePath,
                "--pin-source", "file:\(pinFile)",
            ], environment: try SoftHSM.environment())
        #expect(made.status == 0, "\(made.stderr)")
    }
}
