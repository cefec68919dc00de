import Foundation
import TestSupport
import Testing

/// `export --chain-file`: the path completed from a file beyond what the token holds, written
/// leaf to root whatever order the file had.
@Suite("export --chain-file through the CLI")
struct ChainFileExportTests {
    struct ExportJSON: Decodable { let certificates: [String] }

    @Test(
        "a key imported without its chain exports with the chain from --chain-file, ordered leaf to root; --no-chain leaves it out"
    )
    func chainFromFile() throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: "prime256v1", in: dir)
        let test = try SoftHSM.freshToken()
        let module = ["--module", SoftHSM.modulePath]
        let env = ["PIN": test.userPIN]
        let imported = try CLI.run(
            [
                "import", pfx.path, "--token", "pkcs11:token=\(test.label)", "--password-source",
                "file:\(pfx.passwordFile)",
                "--pin-source", "env:PIN", "--label", "alice", "--exportable", "--no-chain",
            ] + module, environment: env)
        try #require(imported.status == 0, "\(imported.stderr)")
        // Root first in the file: the export must still put the issuing CA next to the leaf.
        let bundle = try dir.write(
            "chain.pem", try pfx.chainPEMs.reversed().map { try String(contentsOfFile: $0, encoding: .utf8) }.joined())
        let password = try dir.write("pass", "chain-file-export")
        let subject = { (path: String) in
            try run("openssl", ["x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "subject=", with: "")
        }
        let expected = [pfx.certificatePEM] + pfx.chainPEMs
        let expectedSubjects = try expected.map(subject)

        let withChain = try CLI.json(
            ExportJSON.self,
            [
                "export", "pkcs11:token=\(test.label);object=alice", "-o", dir.file("full.pfx"),
                "--chain-file", bundle, "--password-source", "file:\(password)", "--pin-source", "env:PIN",
            ] + module,
            environment: env)
        #expect(withChain.certificates.count == 3)
        for (written, wanted) in zip(withChain.certificates, expectedSubjects) {
            // Our subjects and openssl's RFC 2253 ones may order RDNs differently; the CN decides.
            let cn = wanted.split(separator: ",").first { $0.hasPrefix("CN=") }.map(String.init) ?? wanted
            #expect(written.contains(cn), "\(withChain.certificates) is not leaf to root")
        }
        let certs = try run(
            "openssl", ["pkcs12", "-in", dir.file("full.pfx"), "-passin", "file:\(password)", "-nokeys"]
        ).stdout
        #expect(certs.components(separatedBy: "BEGIN CERTIFICATE").count - 1 == 3)

        let without = try CLI.json(
            ExportJSON.self,
            [
                "export", "pkcs11:token=\(test.label);object=alice", "-o", dir.file("leaf.pfx"), "--no-chain",
                "--chain-file", bundle, "--password-source", "file:\(password)", "--pin-source", "env:PIN",
            ] + module,
            environment: env)
        #expect(without.certificates.count == 1)
    }
}
