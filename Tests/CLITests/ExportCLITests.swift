import Foundation
import PKCS11
import TestSupport
import Testing

/// `certbridge export` end to end against SoftHSM2 and the software token: backups that really restore, refusals that
/// write nothing, and the profiles' algorithms as openssl sees them.
@Suite("export through the CLI")
struct ExportCLITests {
    struct ResultJSON: Decodable {
        let label: String
        let id: String
        let objects: [ObjectJSON]
    }
    struct ObjectJSON: Decodable {
        let `class`: String
        let id: String
        let certificate: CertJSON?
    }
    struct CertJSON: Decodable {
        let subject: String
        let category: String?
    }

    /// Both token kinds are loaded; each test names its token by label.
    let module = ["--module", SoftHSM.modulePath, "--module", SoftTokenRig.modulePath]

    func importBackup(_ pfx: PFXFixture, _ test: TestToken, exportable: Bool, label: String = "alice") throws
        -> ResultJSON
    {
        var args =
            [
                "import", pfx.path, "--token", "pkcs11:token=\(test.label)", "--password-source",
                "file:\(pfx.passwordFile)",
                "--pin-source", "env:PIN", "--label", label,
            ] + module
        if exportable { args.append("--exportable") }
        return try CLI.json(ResultJSON.self, args, environment: ["PIN": test.userPIN])
    }

    @Test(
        "round trip: import exportable, export, import the export on a second token: same key and chain",
        arguments: TokenFixtures.all, [nil, "prime256v1"])
    func roundTrip(fixture: any TokenFixture, curve: String?) throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: curve, in: dir)
        let first = try fixture.freshToken()
        let second = try fixture.freshToken()
        let imported = try importBackup(pfx, first, exportable: true)
        let out = dir.file("exported.pfx")
        let password = try dir.write("export-pass", "n3w-backup-password\n")
        let export = try CLI.run(
            [
                "export", "pkcs11:token=\(first.label);object=alice", "-o", out, "--password-source",
                "file:\(password)",
                "--pin-source", "env:PIN",
            ] + module, environment: ["PIN": first.userPIN])
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
        let chain = { (r: ResultJSON) in
            r.objects.compactMap { $0.certificate }.filter { $0.category == "authority" }.map(\.subject).sorted()
        }
        #expect(chain(restored) == chain(imported))
        #expect(chain(restored).count == 2)
    }

    @Test(
        "a non-exportable key: check-exportable and export exit 3, no password asked, no file written",
        arguments: TokenFixtures.all)
    func nonExportable(fixture: any TokenFixture) throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(chain: false, in: dir)
        let test = try fixture.freshToken()
        _ = try importBackup(pfx, test, exportable: false)
        let out = dir.file("never.pfx")
        // A password source that cannot be read proves the refusal comes before any password.
        let result = try CLI.run(
            [
                "export", "pkcs11:token=\(test.label);object=alice", "-o", out,
                "--password-source", "file:\(dir.file("no-such-password-file"))", "--pin-source", "env:PIN",
            ] + module,
            environment: ["PIN": test.userPIN])
        #expect(result.status == 3)
        #expect(result.stderr.contains("marked non-exportable"))
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.contains("never.pfx") })
        let check = try CLI.run(
            ["check-exportable", "pkcs11:token=\(test.label);object=alice", "--pin-source", "env:PIN"] + module,
            environment: ["PIN": test.userPIN])
        #expect(check.status == 3)
    }

    @Test("compat output opens with openssl and shows 3DES and a SHA-1 MAC", arguments: TokenFixtures.all)
    func compat(fixture: any TokenFixture) throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(chain: false, in: dir)
        let test = try fixture.freshToken()
        _ = try importBackup(pfx, test, exportable: true)
        let out = dir.file("compat.pfx")
        let password = try dir.write("pass", "compat-pass")
        let result = try CLI.run(
            [
                "export", "pkcs11:token=\(test.label);object=alice", "-o", out, "--profile", "compat",
                "--password-source", "file:\(password)", "--pin-source", "env:PIN",
            ] + module, environment: ["PIN": test.userPIN])
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
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(chain: false, in: dir)
        let test = try fixture.freshToken()
        _ = try importBackup(pfx, test, exportable: true)
        let existing = try dir.write("taken.pfx", "keep me")
        let password = try dir.write("pass", "p")
        let refused = try CLI.run(
            [
                "export", "pkcs11:token=\(test.label);object=alice", "-o", existing, "--password-source",
                "file:\(password)",
                "--pin-source", "env:PIN",
            ] + module, environment: ["PIN": test.userPIN])
        #expect(refused.status == 2)
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me")

        let pem = dir.file("alice.pem")
        let cert = try CLI.run(
            ["export", "pkcs11:token=\(test.label);object=alice", "--cert-only", "-o", pem, "--pin-source", "env:PIN"]
                + module,
            environment: ["PIN": test.userPIN])
        #expect(cert.status == 0, "\(cert.stderr)")
        let fingerprint = { (path: String) in
            try run("openssl", ["x509", "-in", path, "-noout", "-fingerprint", "-sha256"]).stdout
        }
        #expect(try fingerprint(pem) == fingerprint(pfx.certificatePEM))
    }
}
