import Foundation
import PKCS11
import TestSupport
import Testing

/// Enrollment key pairs end to end: key pair and CSR on SoftHSM2 and the software token, a test CA made with
/// openssl issues the certificate, install-cert attaches it, test-sign checks it.
@Suite("enrollment through the CLI")
struct EnrollCLITests {
    struct Pending: Decodable {
        let token: String
        let uri: String
        let exportable: Bool
        let record: Record
    }
    struct Record: Decodable {
        let label: String
        let subject: String
        let keySpec: String
    }
    struct ObjectJSON: Decodable {
        let `class`: String
        let label: String
        let id: String
    }

    /// Both token kinds are loaded; each test names its token by label.
    let module = ["--module", SoftHSM.modulePath, "--module", SoftTokenRig.modulePath]

    func cli(_ args: [String], _ test: TestToken) throws -> RunResult {
        try CLI.run(args + ["--pin-source", "env:PIN"] + module, environment: ["PIN": test.userPIN])
    }

    /// A CA made with openssl that signs a CSR, copying its subjectAltNames.
    func issue(_ csr: String, in dir: TemporaryDirectory) throws -> String {
        let ca = try RSAComponents.generate(in: dir)
        let caCert = try makeCertificate(keyPEM: ca.pem, subject: "/CN=Enrollment Test CA", ca: true, in: dir)
        let caKey = try dir.write("ca-key.pem", ca.pem)
        let issued = dir.file("issued.pem")
        let signed = try run(
            "openssl",
            [
                "x509", "-req", "-in", csr, "-CA", caCert.pemPath, "-CAkey", caKey, "-CAcreateserial",
                "-days", "30", "-copy_extensions", "copy", "-out", issued,
            ])
        guard signed.status == 0 else { throw TestSupportError("openssl x509 -req: \(signed.stderr)") }
        return issued
    }

    @Test(
        "new → openssl accepts the CSR → a CA issues → install-cert → objects pairs them → test-sign verifies",
        arguments: TokenFixtures.all, ["ec:p256", "rsa:2048"])
    func lifecycle(fixture: any TokenFixture, key: String) throws {
        let dir = try TemporaryDirectory()
        let test = try fixture.freshToken()
        let csr = dir.file("request.csr")
        let made = try cli(
            [
                "enroll", "new", "--subject", "CN=build.example.com,O=Example Org,C=DE", "--san",
                "DNS:build.example.com",
                "--san", "IP:192.0.2.7", "--key", key, "--token", "pkcs11:token=\(test.label)", "-o", csr,
            ], test)
        #expect(made.status == 0, "\(made.stderr)")

        let verified = try run("openssl", ["req", "-in", csr, "-verify", "-noout", "-text"])
        #expect(verified.status == 0)
        #expect(verified.stderr.contains("verify OK") || verified.stdout.contains("verify OK"))
        #expect(verified.stdout.contains("CN = build.example.com"))
        #expect(verified.stdout.contains("C = DE, O = Example Org, CN = build.example.com"))
        #expect(verified.stdout.contains("DNS:build.example.com"))
        #expect(verified.stdout.contains("IP Address:192.0.2.7"))

        // Scoped to this test's token: other tests in this process change PINs on theirs.
        let pending = try CLI.json(
            [Pending].self,
            ["enroll", "list", "--token", "pkcs11:token=\(test.label)", "--pin-source", "env:PIN"] + module,
            environment: ["PIN": test.userPIN])
        let mine = try #require(pending.first { $0.token == test.label })
        #expect(mine.record.label == "build.example.com" && mine.record.keySpec == key && !mine.exportable)

        let issued = try issue(csr, in: dir)
        let installed = try cli(["install-cert", issued, "--token", "pkcs11:token=\(test.label)"], test)
        #expect(installed.status == 0, "\(installed.stderr)")
        #expect(installed.stdout.contains("Installed the certificate for \"build.example.com\""))
        let again = try cli(["install-cert", issued, "--token", "pkcs11:token=\(test.label)"], test)
        #expect(again.status == 0)
        #expect(again.stdout.contains("already on"))

        let after = try CLI.json(
            [Pending].self,
            ["enroll", "list", "--token", "pkcs11:token=\(test.label)", "--pin-source", "env:PIN"] + module,
            environment: ["PIN": test.userPIN])
        #expect(!after.contains { $0.token == test.label })

        let objects = try CLI.json(
            [ObjectJSON].self, ["objects", "pkcs11:token=\(test.label)", "--pin-source", "env:PIN"] + module,
            environment: ["PIN": test.userPIN])
        let keyObject = try #require(objects.first { $0.class == "private-key" })
        let certificates = objects.filter { $0.class == "certificate" }
        #expect(certificates.count == 1)
        #expect(certificates.first?.id == keyObject.id && certificates.first?.label == keyObject.label)

        let selfTest = try cli(["test-sign", mine.uri], test)
        #expect(selfTest.status == 0, "\(selfTest.stdout)\(selfTest.stderr)")
        #expect(selfTest.stdout.contains("certificate"))
    }

    @Test(
        "an exportable enrollment key backs up and restores; a non-exportable one exits 3 and explains",
        arguments: TokenFixtures.all)
    func backups(fixture: any TokenFixture) throws {
        let dir = try TemporaryDirectory()
        let test = try fixture.freshToken()
        let second = try fixture.freshToken()
        for (name, exportable) in [("open", true), ("closed", false)] {
            let made = try cli(
                [
                    "enroll", "new", "--subject", "CN=\(name)", "--key", "ec:p384", "--token",
                    "pkcs11:token=\(test.label)",
                    "-o", dir.file("\(name).csr"),
                ] + (exportable ? ["--exportable"] : []), test)
            #expect(made.status == 0, "\(made.stderr)")
        }
        let password = try dir.write("backup-pass", "enrollment-backup")
        let backup = dir.file("open.pfx")
        let saved = try cli(
            [
                "enroll", "backup", "pkcs11:token=\(test.label);object=open", "-o", backup, "--password-source",
                "file:\(password)",
            ], test)
        #expect(saved.status == 0, "\(saved.stderr)")
        #expect(saved.stderr.contains("placeholder"))
        let restored = try CLI.run(
            [
                "import", backup, "--token", "pkcs11:token=\(second.label)", "--password-source", "file:\(password)",
                "--pin-source", "env:PIN",
            ] + module, environment: ["PIN": second.userPIN])
        #expect(restored.status == 0, "\(restored.stderr)")

        let refused = try cli(
            [
                "enroll", "backup", "pkcs11:token=\(test.label);object=closed", "-o", dir.file("closed.pfx"),
                "--password-source", "file:\(password)",
            ], test)
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("can never be backed up"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("closed.pfx")))
    }

    @Test(
        "install-cert refuses a certificate that matches no key pair, naming the tokens searched",
        arguments: TokenFixtures.all)
    func noMatch(fixture: any TokenFixture) throws {
        let dir = try TemporaryDirectory()
        let test = try fixture.freshToken()
        let stranger = try makeCertificate(
            keyPEM: try ECComponents.generate(in: dir).pem, subject: "/CN=Stranger", in: dir)
        let result = try cli(["install-cert", stranger.pemPath, "--token", "pkcs11:token=\(test.label)"], test)
        #expect(result.status == 5)
        #expect(result.stderr.contains("no key pair on \"\(test.label)\""))
    }
}
