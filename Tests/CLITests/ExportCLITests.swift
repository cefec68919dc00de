import Foundation
import PKCS11
import TestSupport
import Testing

/// `certbridge export` end to end against SoftHSM2 and the software token: backups that really restore, refusals that
/// write nothing, and the profiles' algorithms as openssl sees them.
@Suite("export through the CLI")
struct ExportCLITests {
    /// A fresh token of the fixture; both token kinds are loaded, and each test names its token by label.
    func token(_ fixture: any TokenFixture) throws -> TokenCLI {
        try TokenCLI(fixture, modules: TokenCLI.everyModule)
    }

    func importBackup(_ pfx: PFXFixture, _ cli: TokenCLI, exportable: Bool, label: String = "alice") throws
        -> ImportJSON
    {
        try cli.json(
            ImportJSON.self,
            [
                "import", pfx.path, "--token", cli.tokenURI, "--password-source", "file:\(pfx.passwordFile)",
                "--label", label,
            ] + (exportable ? ["--exportable"] : []))
    }

    /// A fresh token holding "alice", imported from an openssl-made PFX without a chain.
    func alice(_ fixture: any TokenFixture, exportable: Bool) throws -> (cli: TokenCLI, pfx: PFXFixture) {
        let cli = try token(fixture)
        let pfx = try PFXFixture.make(chain: false, in: cli.dir)
        _ = try importBackup(pfx, cli, exportable: exportable)
        return (cli, pfx)
    }

    @Test(
        "round trip: import exportable, export, import the export on a second token: same key and chain",
        arguments: TokenFixtures.all, [nil, "prime256v1"])
    func roundTrip(fixture: any TokenFixture, curve: String?) throws {
        let first = try token(fixture)
        let second = try token(fixture)
        let dir = first.dir
        let pfx = try PFXFixture.make(ec: curve, in: dir)
        let imported = try importBackup(pfx, first, exportable: true)
        let out = dir.file("exported.pfx")
        let password = try dir.write("export-pass", "n3w-backup-password\n")
        let export = try first.run(["export", first.uri("alice"), "-o", out, "--password-source", "file:\(password)"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("with 3 certificate(s)"))

        // The file is private, and openssl opens it and sees the modern profile.
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let info = try run("openssl", ["pkcs12", "-info", "-in", out, "-passin", "file:\(password)", "-noout"])
        #expect(info.status == 0)
        #expect(info.stderr.contains("MAC: sha256"))
        #expect(info.stderr.contains("AES-256-CBC"))
        let inspect = try CLI.run(["pfx", "inspect", out, "--password-source", "file:\(password)"])
        #expect(inspect.stdout.contains("PBES2/AES-256-CBC/PBKDF2-HMAC-SHA256, 600000 iterations"))

        // The same key: the public key in the export is the original certificate's.
        let exportedKey = try run(
            "openssl", ["pkcs12", "-in", out, "-passin", "file:\(password)", "-nocerts", "-nodes"]
        ).stdout
        let exportedPub = try run("openssl", ["pkey", "-pubout"], input: Data(exportedKey.utf8)).stdout
        let originalPub = try run("openssl", ["x509", "-in", pfx.certificatePEM, "-pubkey", "-noout"]).stdout
        #expect(!exportedPub.isEmpty && exportedPub == originalPub)

        // And it restores onto another token with the same chain.
        let restoredFixture = PFXFixture(
            path: out, passwordFile: password, keyPEM: pfx.keyPEM, certificatePEM: pfx.certificatePEM,
            chainPEMs: pfx.chainPEMs)
        let restored = try importBackup(restoredFixture, second, exportable: false)
        #expect(restored.id == imported.id)
        let chain = { (r: ImportJSON) in
            r.objects.compactMap { $0.certificate }.filter { $0.category == "authority" }.map(\.subject).sorted()
        }
        #expect(chain(restored) == chain(imported))
        #expect(chain(restored).count == 2)
    }

    @Test(
        "a non-exportable key: check-exportable and export exit 3, no password asked, no file written",
        arguments: TokenFixtures.all)
    func nonExportable(fixture: any TokenFixture) throws {
        let (cli, _) = try alice(fixture, exportable: false)
        let dir = cli.dir
        let out = dir.file("never.pfx")
        // A password source that cannot be read proves the refusal comes before any password.
        let result = try cli.run(
            ["export", cli.uri("alice"), "-o", out, "--password-source", "file:\(dir.file("no-such-password-file"))"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("marked non-exportable"))
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.contains("never.pfx") })
        let check = try cli.run(["check-exportable", cli.uri("alice")])
        #expect(check.status == 3)
    }

    @Test("compat output opens with openssl and shows 3DES and a SHA-1 MAC", arguments: TokenFixtures.all)
    func compat(fixture: any TokenFixture) throws {
        let (cli, _) = try alice(fixture, exportable: true)
        let out = cli.dir.file("compat.pfx")
        let password = try cli.dir.write("pass", "compat-pass")
        let result = try cli.run(
            ["export", cli.uri("alice"), "-o", out, "--profile", "compat", "--password-source", "file:\(password)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("compat protection"))
        let info = try run(
            "openssl", ["pkcs12", "-info", "-in", out, "-passin", "file:\(password)", "-noout", "-legacy"])
        #expect(info.stderr.contains("MAC: sha1"))
        #expect(info.stderr.contains("pbeWithSHA1And3-KeyTripleDES-CBC"))
    }

    @Test(
        "an existing file is not replaced without --force; --cert-only writes the certificate alone",
        arguments: TokenFixtures.all)
    func files(fixture: any TokenFixture) throws {
        let (cli, pfx) = try alice(fixture, exportable: true)
        let existing = try cli.dir.write("taken.pfx", "keep me")
        let password = try cli.dir.write("pass", "p")
        let refused = try cli.run(["export", cli.uri("alice"), "-o", existing, "--password-source", "file:\(password)"])
        #expect(refused.status == 2)
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me")

        let pem = cli.dir.file("alice.pem")
        let cert = try cli.run(["export", cli.uri("alice"), "--cert-only", "-o", pem])
        #expect(cert.status == 0, "\(cert.stderr)")
        let fingerprint = { (path: String) in
            try run("openssl", ["x509", "-in", path, "-noout", "-fingerprint", "-sha256"]).stdout
        }
        #expect(try fingerprint(pem) == fingerprint(pfx.certificatePEM))
    }
}
