import Foundation
import PKCS11
import TestSupport
import Testing

/// `certbridge verify` trusts a certificate on the token only when it holds the public half of
/// the private key with its id: anyone who can write to a token can put a certificate there
/// (issue 16.2). The check compares public keys; it never signs, so a High key asks nothing.
@Suite("verify refuses a certificate that does not belong to its key")
struct ForgedCertificateTests {
    /// A token with the victim's key (id 7) and an attacker's key and certificate "victim".
    struct Attack {
        let rig: FixtureRig
        let key: InstalledKey
        let data: String
        let attackerKey: String
        let forgedCertificate: [UInt8]
        let forgedSignature: String
        var pin: [String] { ["--pin-source", "file:\(rig.pinFile)"] }

        init(_ fixture: any TokenFixture, _ type: TestKeyType, high: Bool = false) throws {
            rig = try FixtureRig(fixture)
            key = try rig.install(type, high: high, label: "victim", id: [7])
            data = try rig.dir.write("data", "pay 1000 EUR to the attacker\n")
            attackerKey = rig.dir.file("attacker.key")
            let algorithm =
                type == .rsa2048 ? ["-algorithm", "RSA"] : ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
            let gen = try run("openssl", ["genpkey"] + algorithm + ["-out", attackerKey])
            try #require(gen.status == 0, "\(gen.stderr)")
            forgedCertificate = try makeCertificate(
                keyPEM: try String(contentsOfFile: attackerKey, encoding: .utf8), subject: "/CN=victim", in: rig.dir
            ).der
            forgedSignature = rig.dir.file("forged.sig")
            try #require(
                try run("openssl", ["dgst", "-sha256", "-sign", attackerKey, "-out", forgedSignature, data]).status == 0
            )
        }

        /// Replaces the objects of `classes` with id 7 by the attacker's: the certificate, and
        /// for `.publicKey` a public key object with the attacker's key.
        func replace(_ classes: [ObjectClass], publicKeyObject: Bool = false) throws {
            let session = try rig.test.userSession()
            defer { try? session.logout() }
            for objectClass in classes {
                for object in try session.findObjects([Attribute(objectClass), Attribute(.id, bytes: [7])]) {
                    try object.destroy()
                }
            }
            if classes.contains(.certificate) {
                _ = try session.createObject(try certificateTemplate(der: forgedCertificate, label: "victim", id: [7]))
            }
            if publicKeyObject {
                let rsa = try RSAComponents(pemFile: attackerKey)
                _ = try session.createObject(rsa.publicTemplate(label: "victim", id: [7]))
            }
        }

        /// `verify` with the attacker's signature, by every way of naming the key.
        func expectRefused(_ reason: String) throws {
            for uri in [
                key.uri, "pkcs11:token=\(rig.test.label);object=victim;type=cert",
                "pkcs11:token=\(rig.test.label);id=%07",
            ] {
                let result = try rig.certbridge(["verify", uri, "--in", data, "--sig", forgedSignature] + pin)
                #expect(result.status == 1, "\(uri): \(result.stdout) \(result.stderr)")
                #expect(!result.stdout.contains("Signature OK"), "\(uri)")
                #expect(result.stderr.contains(reason), "\(uri): \(result.stderr)")
            }
        }
    }

    @Test(
        "a certificate replaced under the key's id by one for an attacker's key gives no \"Signature OK\"",
        arguments: TokenFixtures.all, [TestKeyType.rsa2048, .p256])
    func forgedCertificate(fixture: any TokenFixture, type: TestKeyType) throws {
        let attack = try Attack(fixture, type)
        // Before: the genuine certificate passes the check.
        let genuine = attack.rig.dir.file("genuine.sig")
        let signed = try attack.rig.certbridge(
            ["sign", attack.key.uri, "--in", attack.data, "--out", genuine] + attack.pin)
        try #require(signed.status == 0, "\(signed.stderr)")
        let ok = try attack.rig.certbridge(
            ["verify", attack.key.uri, "--in", attack.data, "--sig", genuine] + attack.pin)
        #expect(ok.status == 0 && ok.stdout.contains("Signature OK"), "\(ok.stderr)")

        try attack.replace([.certificate])
        // RSA keys show their modulus, and the software token's keys their CKA_PUBLIC_KEY_INFO;
        // SoftHSM2's EC keys hide their point, so their public key object decides.
        let ownHalf = type == .rsa2048 || fixture is SoftTokenFixture
        try attack.expectRefused(
            ownHalf
                ? "does not hold the public key of the private key \"victim\""
                : "does not hold the public key of the public key object of the private key \"victim\"")
    }

    @Test(
        "an RSA key's own modulus decides even when the public key object was replaced too",
        arguments: TokenFixtures.all)
    func forgedCertificateAndPublicKey(fixture: any TokenFixture) throws {
        let attack = try Attack(fixture, .rsa2048)
        try attack.replace([.certificate, .publicKey], publicKeyObject: true)
        try attack.expectRefused("does not hold the public key of the private key \"victim\"")
    }

    @Test(
        "an EC key with its public key object removed: the software token's key decides by its CKA_PUBLIC_KEY_INFO; on SoftHSM2 nothing can vouch for the certificate, so it is refused",
        arguments: TokenFixtures.all)
    func publicKeyObjectRemoved(fixture: any TokenFixture) throws {
        let attack = try Attack(fixture, .p256)
        try attack.replace([.certificate, .publicKey])
        try attack.expectRefused(
            fixture is SoftTokenFixture
                ? "does not hold the public key of the private key \"victim\""
                : "cannot be checked: the token shows neither the public half of the private key \"victim\"")
    }

    @Test(
        "the check reads public keys only: a High key's genuine certificate verifies with no key password and no terminal",
        arguments: TokenFixtures.all, [TestKeyType.rsa2048, .p256])
    func highKeyAsksNothing(fixture: any TokenFixture, type: TestKeyType) throws {
        let attack = try Attack(fixture, type, high: true)
        // Signed outside the token with the key's PEM: a token signature would need its approval.
        let signature = attack.rig.dir.file("genuine.sig")
        try #require(
            try run("openssl", ["dgst", "-sha256", "-sign", attack.key.privateKeyPEM, "-out", signature, attack.data])
                .status == 0)
        let ok = try attack.rig.certbridge(
            ["verify", attack.key.uri, "--in", attack.data, "--sig", signature] + attack.pin, input: "")
        #expect(ok.status == 0 && ok.stdout.contains("Signature OK"), "\(ok.stdout) \(ok.stderr)")
        #expect(!ok.stderr.contains("assword"), "\(ok.stderr)")
    }
}
