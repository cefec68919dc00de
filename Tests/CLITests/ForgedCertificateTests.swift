import Foundation
import PKCS11
import Testing
import TestSupport

/// `certbridge verify` trusts a certificate on the token only when it belongs to the private key
/// with its id: anyone who can write to a token can put a certificate there (issue 16.2).
@Suite("verify refuses a certificate that does not belong to its key")
struct ForgedCertificateTests {
    @Test("a certificate replaced under the key's id by one for an attacker's key gives no \"Signature OK\"",
          arguments: TokenFixtures.all, [TestKeyType.rsa2048, .p256])
    func forgedCertificate(fixture: any TokenFixture, type: TestKeyType) throws {
        let rig = try SigningCLITests.Rig(fixture)
        let key = try rig.install(type, label: "victim", id: [7])
        let pin = ["--pin-source", "file:\(rig.pinFile)"]
        let data = try rig.dir.write("data", "pay 1000 EUR to the attacker\n")

        // Before: the genuine certificate passes the check.
        let genuine = rig.dir.file("genuine.sig")
        let signed = try rig.certbridge(["sign", key.uri, "--in", data, "--out", genuine] + pin)
        try #require(signed.status == 0, "\(signed.stderr)")
        let ok = try rig.certbridge(["verify", key.uri, "--in", data, "--sig", genuine] + pin)
        #expect(ok.status == 0 && ok.stdout.contains("Signature OK"), "\(ok.stderr)")

        // The attacker: a key of their own, a certificate for it with the victim's name and id.
        let attackerKey = rig.dir.file("attacker.key")
        let gen = try run("openssl", ["genpkey"] + (type == .rsa2048 ? ["-algorithm", "RSA"] : ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
                          + ["-out", attackerKey])
        try #require(gen.status == 0)
        let forged = try makeCertificate(keyPEM: try String(contentsOfFile: attackerKey, encoding: .utf8), subject: "/CN=victim", in: rig.dir)
        let session = try rig.test.userSession()
        for certificate in try session.findObjects([Attribute(.certificate), Attribute(.id, bytes: [7])]) { try certificate.destroy() }
        _ = try session.createObject(try certificateTemplate(der: forged.der, label: "victim", id: [7]))
        try? session.logout()
        let forgedSignature = rig.dir.file("forged.sig")
        try #require(try run("openssl", ["dgst", "-sha256", "-sign", attackerKey, "-out", forgedSignature, data]).status == 0)

        for uri in [key.uri, "pkcs11:token=\(rig.test.label);object=victim;type=cert", "pkcs11:token=\(rig.test.label);id=%07"] {
            let result = try rig.certbridge(["verify", uri, "--in", data, "--sig", forgedSignature] + pin)
            #expect(result.status == 1, "\(uri): \(result.stdout) \(result.stderr)")
            #expect(!result.stdout.contains("Signature OK"), "\(uri)")
            #expect(result.stderr.contains("is not the public half of the private key \"victim\""), "\(uri): \(result.stderr)")
        }
    }
}
