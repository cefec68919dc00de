import Foundation
import PKCS11
import TestSupport
import Testing

/// Backups that cannot go onto a token are found out before anything is written: an algorithm
/// the token layer does not take (an RSA key restricted to PSS), and a file without a private key.
@Suite("import refusals through the CLI")
struct ImportRefusalTests {
    @Test(
        "an RSA-PSS-only key backup and a certificates-only backup are refused with a clear message; the token is untouched",
        arguments: ["rsa-pss", "certificates-only"])
    func refused(kind: String) throws {
        let dir = try TemporaryDirectory()
        let key = dir.file("key.pem")
        let cert = dir.file("cert.pem")
        let pfx = dir.file("backup.pfx")
        let password = try dir.write("pass", "refuse-me")
        let keyArgs =
            kind == "rsa-pss"
            ? ["-algorithm", "RSA-PSS"] : ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        try #require(try run("openssl", ["genpkey"] + keyArgs + ["-out", key]).status == 0)
        try #require(
            try run("openssl", ["req", "-x509", "-key", key, "-subj", "/CN=Refused", "-days", "30", "-out", cert])
                .status == 0)
        let export =
            kind == "rsa-pss"
            ? ["pkcs12", "-export", "-inkey", key, "-in", cert, "-passout", "file:\(password)", "-out", pfx]
            : ["pkcs12", "-export", "-nokeys", "-in", cert, "-passout", "file:\(password)", "-out", pfx]
        let made = try run("openssl", export)
        try #require(made.status == 0, "\(made.stderr)")

        let test = try SoftHSM.freshToken()
        let before = try test.snapshot()
        let result = try CLI.run(
            [
                "import", pfx, "--token", "pkcs11:token=\(test.label)", "--password-source", "file:\(password)",
                "--pin-source", "env:PIN", "--module", SoftHSM.modulePath,
            ], environment: ["PIN": test.userPIN])
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        #expect(
            result.stderr.contains(kind == "rsa-pss" ? "RSA-PSS keys are not supported" : "no private key"),
            "\(result.stderr)")
        #expect(try test.snapshot() == before)
    }
}
