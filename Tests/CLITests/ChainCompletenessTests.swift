import Foundation
import TestSupport
import Testing

/// "Include all certificates in the certification path if possible": an import or export whose
/// path stops short of a self-signed root says so, naming the missing issuer and --chain-file;
/// with the root from --chain-file the path is whole and nothing is said.
@Suite("chain completeness on import and export")
struct ChainCompletenessTests {
    /// An exportable-ready PFX with the leaf and its issuing CA, but not the root above it.
    func pfxWithoutRoot(in dir: TemporaryDirectory) throws -> (
        pfx: String, password: String, root: String, rootName: String
    ) {
        let tag = UInt32.random(in: 0...UInt32.max)
        let rootName = "Missing Root \(tag)"
        let root = try TestCA(subject: "/CN=\(rootName)", in: dir)
        let mid = try TestCA(subject: "/CN=Present Issuing CA \(tag)", issuer: root, in: dir)
        let leafKey = try ECComponents.generate(in: dir).pem
        let leaf = try makeCertificate(
            keyPEM: leafKey, subject: "/CN=Chain User \(tag)", issuerKeyPEM: mid.keyPEM, issuerCert: mid.certificatePEM,
            in: dir)
        let keyPath = try dir.write("leaf-key.pem", leafKey)
        let password = try dir.write("pfx-pass", "chain-pass")
        let pfx = dir.file("no-root.pfx")
        let made = try run(
            "openssl",
            [
                "pkcs12", "-export", "-inkey", keyPath, "-in", leaf.pemPath, "-certfile", mid.certificatePEM,
                "-passout", "file:\(password)", "-out", pfx,
            ])
        try #require(made.status == 0, "\(made.stderr)")
        return (pfx, password, root.certificatePEM, rootName)
    }

    @Test(
        "import and export of a path without its root warn, naming the root and --chain-file; with --chain-file the root comes along and neither warns"
    )
    func warnsOnBoth() throws {
        let cli = try TokenCLI.softHSM()
        let made = try pfxWithoutRoot(in: cli.dir)
        let password = ["--password-source", "file:\(made.password)"]

        let imported = try cli.run(
            ["import", made.pfx, "--token", cli.tokenURI, "--exportable", "--label", "chained"] + password)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(
            imported.stderr.contains(
                "warning: the certification path stops short of a self-signed root: the issuer \"CN=\(made.rootName)\""),
            "\(imported.stderr)")
        #expect(imported.stderr.contains("--chain-file"))

        let uri = cli.uri("chained")
        let exported = try cli.run(["export", uri, "-o", cli.dir.file("out.pfx")] + password)
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stderr.contains("the issuer \"CN=\(made.rootName)\" of"), "\(exported.stderr)")
        #expect(exported.stdout.contains("with 2 certificate(s)"))

        let whole = try cli.run(["export", uri, "-o", cli.dir.file("whole.pfx"), "--chain-file", made.root] + password)
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(!whole.stderr.contains("stops short"), "\(whole.stderr)")
        #expect(whole.stdout.contains("with 3 certificate(s)"))

        let other = try TokenCLI.softHSM()
        let completed = try other.run(
            ["import", made.pfx, "--token", other.tokenURI, "--chain-file", made.root] + password)
        #expect(completed.status == 0, "\(completed.stderr)")
        #expect(!completed.stderr.contains("stops short"), "\(completed.stderr)")
        #expect(
            completed.stdout.contains("CN=\(made.rootName)"),
            "the root from --chain-file is placed as an authority certificate")

        let noChain = try other.run(
            ["import", made.pfx, "--token", other.tokenURI, "--no-chain", "--replace"] + password)
        #expect(noChain.status == 0, "\(noChain.stderr)")
        #expect(!noChain.stderr.contains("stops short"), "--no-chain asked for no path: \(noChain.stderr)")
    }
}
