import Foundation
import TestSupport
import Testing

/// "Include all certificates in the certification path if possible": an import or export whose
/// path stops short of a self-signed root says so, naming the missing issuer and --chain-file;
/// with the root from --chain-file the path is whole and nothing is said.
@Suite("chain completeness on import and export")
struct ChainCompletenessTests {
    let module = ["--module", SoftHSM.modulePath]

    /// An exportable-ready PFX with the leaf and its issuing CA, but not the root above it.
    func pfxWithoutRoot(in dir: TemporaryDirectory) throws -> (
        pfx: String, password: String, root: String, rootName: String
    ) {
        let tag = UInt32.random(in: 0...UInt32.max)
        let rootName = "Missing Root \(tag)"
        let root = try RSAComponents.generate(in: dir)
        let rootCert = try makeCertificate(keyPEM: root.pem, subject: "/CN=\(rootName)", ca: true, in: dir)
        let mid = try RSAComponents.generate(in: dir)
        let midCert = try makeCertificate(
            keyPEM: mid.pem, subject: "/CN=Present Issuing CA \(tag)", issuerKeyPEM: root.pem,
            issuerCert: rootCert.pemPath, ca: true, in: dir)
        let leafKey = try ECComponents.generate(in: dir).pem
        let leaf = try makeCertificate(
            keyPEM: leafKey, subject: "/CN=Chain User \(tag)", issuerKeyPEM: mid.pem, issuerCert: midCert.pemPath,
            in: dir)
        let keyPath = try dir.write("leaf-key.pem", leafKey)
        let password = try dir.write("pfx-pass", "chain-pass")
        let pfx = dir.file("no-root.pfx")
        let made = try run(
            "openssl",
            [
                "pkcs12", "-export", "-inkey", keyPath, "-in", leaf.pemPath, "-certfile", midCert.pemPath,
                "-passout", "file:\(password)", "-out", pfx,
            ])
        try #require(made.status == 0, "\(made.stderr)")
        return (pfx, password, rootCert.pemPath, rootName)
    }

    @Test(
        "import and export of a path without its root warn, naming the root and --chain-file; with --chain-file the root comes along and neither warns"
    )
    func warnsOnBoth() throws {
        let dir = try TemporaryDirectory()
        let made = try pfxWithoutRoot(in: dir)
        let test = try SoftHSM.freshToken()
        let common = ["--password-source", "file:\(made.password)", "--pin-source", "env:PIN"] + module
        let env = ["PIN": test.userPIN]

        let imported = try CLI.run(
            ["import", made.pfx, "--token", "pkcs11:token=\(test.label)", "--exportable", "--label", "chained"]
                + common, environment: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(
            imported.stderr.contains(
                "warning: the certification path stops short of a self-signed root: the issuer \"CN=\(made.rootName)\""),
            "\(imported.stderr)")
        #expect(imported.stderr.contains("--chain-file"))

        let uri = "pkcs11:token=\(test.label);object=chained"
        let exported = try CLI.run(["export", uri, "-o", dir.file("out.pfx")] + common, environment: env)
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stderr.contains("the issuer \"CN=\(made.rootName)\" of"), "\(exported.stderr)")
        #expect(exported.stdout.contains("with 2 certificate(s)"))

        let whole = try CLI.run(
            ["export", uri, "-o", dir.file("whole.pfx"), "--chain-file", made.root] + common, environment: env)
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(!whole.stderr.contains("stops short"), "\(whole.stderr)")
        #expect(whole.stdout.contains("with 3 certificate(s)"))

        let other = try SoftHSM.freshToken()
        let completed = try CLI.run(
            ["import", made.pfx, "--token", "pkcs11:token=\(other.label)", "--chain-file", made.root] + common,
            environment: ["PIN": other.userPIN])
        #expect(completed.status == 0, "\(completed.stderr)")
        #expect(!completed.stderr.contains("stops short"), "\(completed.stderr)")
        #expect(
            completed.stdout.contains("CN=\(made.rootName)"),
            "the root from --chain-file is placed as an authority certificate")

        let noChain = try CLI.run(
            ["import", made.pfx, "--token", "pkcs11:token=\(other.label)", "--no-chain", "--replace"] + common,
            environment: ["PIN": other.userPIN])
        #expect(noChain.status == 0, "\(noChain.stderr)")
        #expect(!noChain.stderr.contains("stops short"), "--no-chain asked for no path: \(noChain.stderr)")
    }
}
