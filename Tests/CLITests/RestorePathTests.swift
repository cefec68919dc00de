import Foundation
import PKCS11
import TestSupport
import Testing

/// The enrollment restore path: `enroll new --exportable` → `enroll backup` → `import` onto
/// another token → `install-cert` there → `export`. The PFX ends with the issued certificate
/// and its chain, and no placeholder is left on the token.
@Suite("enrollment backup restored, certificate installed, exported")
struct RestorePathTests {
    static let marker = Array("CertBridge placeholder: no certificate issued yet".utf8)

    static func holdsMarker(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= marker.count else { return false }
        return (0...(bytes.count - marker.count)).contains { Array(bytes[$0..<($0 + marker.count)]) == marker }
    }

    @Test(
        "the restored pair exports the issued certificate and its chain, with no placeholder on the token or in the PFX",
        arguments: [
            (SoftHSMFixture() as any TokenFixture, SoftTokenFixture() as any TokenFixture),
            (SoftTokenFixture() as any TokenFixture, SoftHSMFixture() as any TokenFixture),
        ])
    func restorePath(source: any TokenFixture, target: any TokenFixture) throws {
        let dir = try TemporaryDirectory()
        let from = try source.freshToken()
        let to = try target.freshToken()
        let passwordFile = try dir.write("pw", "backup-pw\n")
        var environment = try source.environment()
        for (key, value) in try target.environment() { environment[key] = value }
        environment["PIN_FROM"] = from.userPIN
        environment["PIN_TO"] = to.userPIN
        let modules = ["--module", source.modulePath, "--module", target.modulePath]
        func cli(_ arguments: [String], pin: String) throws -> RunResult {
            try run(CLI.path, arguments + modules + ["--pin-source", "env:\(pin)"], environment: environment)
        }

        let csr = dir.file("req.csr")
        let made = try cli(
            [
                "enroll", "new", "--subject", "CN=restore.example", "--key", "ec:p256", "--exportable",
                "--token", "pkcs11:token=\(from.label)", "-o", csr,
            ], pin: "PIN_FROM")
        try #require(made.status == 0, "\(made.stderr)")
        let backup = dir.file("backup.pfx")
        let saved = try cli(
            [
                "enroll", "backup", "pkcs11:token=\(from.label);object=restore.example", "-o", backup,
                "--password-source", "file:\(passwordFile)",
            ], pin: "PIN_FROM")
        try #require(saved.status == 0, "\(saved.stderr)")
        let imported = try cli(
            [
                "import", backup, "--token", "pkcs11:token=\(to.label)", "--exportable",
                "--password-source", "file:\(passwordFile)",
            ], pin: "PIN_TO")
        try #require(imported.status == 0, "\(imported.stderr)")

        let ca = try TestCA(subject: "/CN=Restore Test CA", in: dir)
        let issued = try ca.issue(csr)
        let installed = try cli(
            ["install-cert", issued, "--chain-file", ca.certificatePEM, "--token", "pkcs11:token=\(to.label)"],
            pin: "PIN_TO")
        try #require(installed.status == 0, "\(installed.stderr)")
        #expect(installed.stdout.contains("Removed the placeholder"), "\(installed.stdout)")

        let session = try to.userSession()
        let certificates = try session.findObjects([Attribute(.certificate)]).compactMap {
            try $0.attributes([.value])[.value]
        }
        #expect(certificates.count == 2, "the issued certificate and the CA, nothing else")
        #expect(!certificates.contains(where: Self.holdsMarker), "a placeholder is left on the token")
        try? session.logout()

        let exported = dir.file("exported.pfx")
        let written = try cli(
            [
                "export", "pkcs11:token=\(to.label);object=restore.example", "-o", exported,
                "--password-source", "file:\(passwordFile)",
            ], pin: "PIN_TO")
        try #require(written.status == 0, "\(written.stderr)")
        let listed = try run("openssl", ["pkcs12", "-in", exported, "-nokeys", "-passin", "pass:backup-pw"])
        try #require(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("subject=CN = restore.example"), "\(listed.stdout)")
        #expect(listed.stdout.contains("subject=CN = Restore Test CA"), "the chain is missing: \(listed.stdout)")
        #expect(!listed.stdout.contains("placeholder"), "\(listed.stdout)")
    }
}
