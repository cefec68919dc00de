import Foundation
import PKCS11
import TestSupport
import Testing

/// Enrollment key pairs end to end: key pair and CSR on SoftHSM2 and the software token, a test CA made with
/// openssl issues the certificate, install-cert attaches it, test-sign checks it.
@Suite("enrollment through the CLI")
struct EnrollCLITests {
    /// A fresh token of the fixture; both token kinds are loaded, and each test names its token by label.
    func token(_ fixture: any TokenFixture) throws -> TokenCLI {
        try TokenCLI(fixture, modules: TokenCLI.everyModule)
    }

    @Test(
        "new → openssl accepts the CSR → a CA issues → install-cert → objects pairs them → test-sign verifies",
        arguments: TokenFixtures.all, ["ec:p256", "rsa:2048"])
    func lifecycle(fixture: any TokenFixture, key: String) throws {
        let cli = try token(fixture)
        let csr = cli.dir.file("request.csr")
        let made = try cli.run([
            "enroll", "new", "--subject", "CN=build.example.com,O=Example Org,C=DE", "--san", "DNS:build.example.com",
            "--san", "IP:192.0.2.7", "--key", key, "--token", cli.tokenURI, "-o", csr,
        ])
        #expect(made.status == 0, "\(made.stderr)")

        let verified = try run("openssl", ["req", "-in", csr, "-verify", "-noout", "-text"])
        #expect(verified.status == 0)
        #expect(verified.stderr.contains("verify OK") || verified.stdout.contains("verify OK"))
        #expect(verified.stdout.contains("CN = build.example.com"))
        #expect(verified.stdout.contains("C = DE, O = Example Org, CN = build.example.com"))
        #expect(verified.stdout.contains("DNS:build.example.com"))
        #expect(verified.stdout.contains("IP Address:192.0.2.7"))

        // Scoped to this test's token: other tests in this process change PINs on theirs.
        let pending = try cli.json([PendingJSON].self, ["enroll", "list", "--token", cli.tokenURI])
        let mine = try #require(pending.first { $0.token == cli.test.label })
        #expect(mine.record.label == "build.example.com" && mine.record.keySpec == key && !mine.exportable)

        // A CA made with openssl signs the request, copying its subjectAltNames.
        let issued = try TestCA(subject: "/CN=Enrollment Test CA", in: cli.dir).issue(csr, copyExtensions: true)
        let installed = try cli.run(["install-cert", issued, "--token", cli.tokenURI])
        #expect(installed.status == 0, "\(installed.stderr)")
        #expect(installed.stdout.contains("Installed the certificate for \"build.example.com\""))
        let again = try cli.run(["install-cert", issued, "--token", cli.tokenURI])
        #expect(again.status == 0)
        #expect(again.stdout.contains("already on"))

        let after = try cli.json([PendingJSON].self, ["enroll", "list", "--token", cli.tokenURI])
        #expect(!after.contains { $0.token == cli.test.label })

        let objects = try cli.objects()
        let keyObject = try #require(objects.first { $0.class == "private-key" })
        let certificates = objects.filter { $0.class == "certificate" }
        #expect(certificates.count == 1)
        #expect(certificates.first?.id == keyObject.id && certificates.first?.label == keyObject.label)

        let selfTest = try cli.run(["test-sign", mine.uri])
        #expect(selfTest.status == 0, "\(selfTest.stdout)\(selfTest.stderr)")
        #expect(selfTest.stdout.contains("certificate"))
    }

    @Test(
        "an exportable enrollment key backs up and restores; a non-exportable one exits 3 and explains",
        arguments: TokenFixtures.all)
    func backups(fixture: any TokenFixture) throws {
        let cli = try token(fixture)
        let second = try token(fixture)
        for (name, exportable) in [("open", true), ("closed", false)] {
            let made = try cli.run(
                ["enroll", "new", "--subject", "CN=\(name)", "--key", "ec:p384", "--token", cli.tokenURI]
                    + ["-o", cli.dir.file("\(name).csr")] + (exportable ? ["--exportable"] : []))
            #expect(made.status == 0, "\(made.stderr)")
        }
        let password = try cli.dir.write("backup-pass", "enrollment-backup")
        let backup = cli.dir.file("open.pfx")
        let saved = try cli.run(
            ["enroll", "backup", cli.uri("open"), "-o", backup, "--password-source", "file:\(password)"])
        #expect(saved.status == 0, "\(saved.stderr)")
        #expect(saved.stderr.contains("placeholder"))
        let restored = try second.run(
            ["import", backup, "--token", second.tokenURI, "--password-source", "file:\(password)"])
        #expect(restored.status == 0, "\(restored.stderr)")

        let refused = try cli.run(
            [
                "enroll", "backup", cli.uri("closed"), "-o", cli.dir.file("closed.pfx"), "--password-source",
                "file:\(password)",
            ])
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("can never be backed up"))
        #expect(!FileManager.default.fileExists(atPath: cli.dir.file("closed.pfx")))
    }

    @Test(
        "install-cert refuses a certificate that matches no key pair, naming the tokens searched",
        arguments: TokenFixtures.all)
    func noMatch(fixture: any TokenFixture) throws {
        let cli = try token(fixture)
        let stranger = try makeCertificate(
            keyPEM: try ECComponents.generate(in: cli.dir).pem, subject: "/CN=Stranger", in: cli.dir)
        let result = try cli.run(["install-cert", stranger.pemPath, "--token", cli.tokenURI])
        #expect(result.status == 5)
        #expect(result.stderr.contains("no key pair on \"\(cli.test.label)\""))
    }
}
