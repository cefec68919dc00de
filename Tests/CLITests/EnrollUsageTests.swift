import Foundation
import PKCS11
import TestSupport
import Testing

/// `enroll new --usage`: the request's keyUsage (read back by `openssl req -text`), the key's
/// flags, and `enroll verify` / `sign` choosing by usage, on both tokens.
@Suite("enrollment key usage through the CLI")
struct EnrollUsageTests {
    struct ObjectJSON: Decodable {
        let label: String
        let usage: [String]?
    }

    @Test(
        "an encryption pair: the CSR asks for keyEncipherment (RSA) or keyAgreement (EC), enroll verify runs a decryption round trip, sign refuses",
        arguments: TokenFixtures.all, ["rsa:2048", "ec:p256"])
    func encryptionPair(fixture: any TokenFixture, key: String) throws {
        let rig = try FixtureRig(fixture)
        let rsa = key.hasPrefix("rsa")
        let csr = rig.dir.file("enc.csr")
        let made = try rig.certbridgeWithPIN([
            "enroll", "new", "--subject", "CN=enc.example", "--key", key, "--usage", "encryption",
            "--token", "pkcs11:token=\(rig.test.label)", "-o", csr,
        ])
        try #require(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.contains("encryption key pair"))
        let text = try run("openssl", ["req", "-in", csr, "-noout", "-text", "-verify"])
        #expect(text.status == 0, "\(text.stderr)")
        let usage = text.stdout.components(separatedBy: "X509v3 Key Usage: critical\n").dropFirst().first?
            .split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(usage == (rsa ? "Key Encipherment" : "Key Agreement"), "\(text.stdout)")

        let uri = "pkcs11:token=\(rig.test.label);object=enc.example"
        let listed = try rig.certbridgeWithPIN(["objects", uri + ";type=private", "--json"])
        let objects = try JSONDecoder().decode([ObjectJSON].self, from: listed.stdoutData)
        let usageListed = try #require(objects.first?.usage, "objects shows no usage: \(listed.stdout)")
        #expect(usageListed.contains(rsa ? "decrypt" : "derive"), "\(usageListed)")
        #expect(!usageListed.contains(rsa ? "derive" : "decrypt"), "\(usageListed)")
        let verified = try rig.certbridgeWithPIN(["enroll", "verify", uri])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        #expect(verified.stdout.contains("encryption round trip"), "\(verified.stdout)")
        #expect(verified.stdout.contains(rsa ? "C_Decrypt" : "C_DeriveKey"), "\(verified.stdout)")
        #expect(!verified.stdout.contains("ok   sign"))
        let tested = try rig.certbridgeWithPIN(["test-sign", uri, "--json"])
        #expect(
            tested.status == 0 && tested.stdout.contains("\"test\" : \"encrypt-decrypt\""),
            "\(tested.stdout) \(tested.stderr)")

        let data = try rig.dir.write("data", "sign me\n")
        let signed = try rig.certbridgeWithPIN(["sign", uri, "--in", data, "--out", rig.dir.file("sig")])
        #expect(signed.status != 0, "an encryption key signed")
        #expect(signed.stderr.split(separator: "\n").count == 1, "one sentence: \(signed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: rig.dir.file("sig")))
    }

    @Test(
        "a signing pair (the default): the CSR asks for digitalSignature and nonRepudiation, enroll verify signs",
        arguments: TokenFixtures.all)
    func signingPair(fixture: any TokenFixture) throws {
        let rig = try FixtureRig(fixture)
        let csr = rig.dir.file("sig.csr")
        let made = try rig.certbridgeWithPIN([
            "enroll", "new", "--subject", "CN=sig.example", "--token", "pkcs11:token=\(rig.test.label)", "-o", csr,
        ])
        try #require(made.status == 0, "\(made.stderr)")
        let text = try run("openssl", ["req", "-in", csr, "-noout", "-text"])
        #expect(text.stdout.contains("Digital Signature, Non Repudiation"), "\(text.stdout)")
        let verified = try rig.certbridgeWithPIN([
            "enroll", "verify", "pkcs11:token=\(rig.test.label);object=sig.example",
        ])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("signing round trip"))
    }
}
