import Foundation
import PKCS11
import TestSupport
import Testing

/// CKA_SENSITIVE=false and exportability. PKCS#11 hides a private key's value when it is
/// sensitive *or* not extractable, so a non-sensitive key is exportable only if it is also
/// extractable; such a key leaves a token without key wrapping by being read.
@Suite("export and check-exportable of non-sensitive keys through the CLI")
struct ReadableKeyExportTests {
    /// A private key (RSA or EC) and its certificate placed on the token with the given flags.
    func place(_ kind: String, sensitive: Bool, extractable: Bool, on test: TestToken, in dir: TemporaryDirectory)
        throws -> String
    {
        let flags = [Attribute(.sensitive, sensitive), Attribute(.extractable, extractable)]
        let keyPEM: String
        let session = try test.userSession()
        if kind == "rsa" {
            let rsa = try RSAComponents.generate(in: dir)
            keyPEM = rsa.pem
            _ = try session.createObject(rsa.privateTemplate(label: "open-book", id: [0x0B], extraFlags: flags))
        } else {
            let ec = try ECComponents.generate(curve: kind == "p256" ? "prime256v1" : "secp384r1", in: dir)
            keyPEM = ec.pem
            _ = try session.createObject(
                [
                    Attribute(.privateKey), Attribute(.ec), Attribute(.token, true), Attribute(.private, true),
                    Attribute(.sign, true), Attribute(.label, string: "open-book"), Attribute(.id, bytes: [0x0B]),
                    Attribute(.ecParams, bytes: ec.parameters), Attribute(.value, bytes: ec.privateValue),
                ] + flags)
        }
        let cert = try makeCertificate(keyPEM: keyPEM, subject: "/CN=Open Book", in: dir)
        _ = try session.createObject(try certificateTemplate(der: cert.der, label: "open-book", id: [0x0B]))
        return keyPEM
    }

    /// The public key openssl finds in a PFX, and in the original key.
    func samePublicKey(pfx: String, password: String, keyPEM: String, dir: TemporaryDirectory) throws -> Bool {
        let key = try run("openssl", ["pkcs12", "-in", pfx, "-passin", "file:\(password)", "-nocerts", "-nodes"]).stdout
        let fromPFX = try run("openssl", ["pkey", "-pubout"], input: Data(key.utf8)).stdout
        let original = try run("openssl", ["pkey", "-pubout", "-in", try dir.write("original-\(UUID()).pem", keyPEM)])
            .stdout
        return !original.isEmpty && fromPFX == original
    }

    let common = ["--pin-source", "env:PIN"]

    @Test("non-sensitive but not extractable: not exportable (exit 3 from both commands), as the token hides the value")
    func readableNotExtractable() throws {
        let dir = try TemporaryDirectory()
        let test = try SoftHSM.freshToken()
        _ = try place("rsa", sensitive: false, extractable: false, on: test, in: dir)
        let env = ["PIN": test.userPIN]
        let uri = "pkcs11:token=\(test.label);object=open-book"
        let module = ["--module", SoftHSM.modulePath]
        let check = try CLI.run(["check-exportable", uri] + common + module, environment: env)
        #expect(check.status == 3, "\(check.stdout) \(check.stderr)")
        #expect(check.stdout.contains("CKA_EXTRACTABLE=false"))
        let exported = try CLI.run(
            ["export", uri, "-o", dir.file("never.pfx"), "--password-source", "file:\(dir.file("unread"))"] + common
                + module,
            environment: env)
        #expect(exported.status == 3, "\(exported.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("never.pfx")))
        // The token agrees: it will not show the private exponent.
        let session = try test.userSession()
        let key = try session.findObject(
            [Attribute(.privateKey), Attribute(.label, string: "open-book")], what: "the key")
        #expect(try key.attributes([.privateExponent])[.privateExponent] == nil)
    }

    /// `certbridge export` of "open-book" through the picky shim in front of SoftHSM2, with key
    /// wrapping withheld (CERTBRIDGE_PICKY_NO_WRAP).
    func exportWithoutWrap(from test: TestToken, to out: String, password: String, in dir: TemporaryDirectory)
        throws -> RunResult
    {
        let picky = try PickyTokenImportTests.pickyModule(in: dir)
        let env = ["PIN": test.userPIN, "CERTBRIDGE_PICKY_TARGET": SoftHSM.modulePath, "CERTBRIDGE_PICKY_NO_WRAP": "1"]
        return try CLI.run(
            [
                "export", "pkcs11:token=\(test.label);object=open-book", "-o", out, "--password-source",
                "file:\(password)", "--module", picky,
            ] + common, environment: env)
    }

    @Test(
        "on a token without key wrapping, a non-sensitive extractable key is read out into a PFX holding the same key",
        arguments: ["rsa", "p256", "p384"])
    func readOutWithoutWrap(kind: String) throws {
        let dir = try TemporaryDirectory()
        let test = try SoftHSM.freshToken()
        let keyPEM = try place(kind, sensitive: false, extractable: true, on: test, in: dir)
        let out = dir.file("open-book.pfx")
        let password = try dir.write("pass", "read-it-out")
        let exported = try exportWithoutWrap(from: test, to: out, password: password, in: dir)
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(try samePublicKey(pfx: out, password: password, keyPEM: keyPEM, dir: dir))
    }

    @Test(
        "on a token without key wrapping, a sensitive extractable key cannot leave: exit 1 naming the wrap mechanisms it lacks, no file"
    )
    func sensitiveWithoutWrap() throws {
        let dir = try TemporaryDirectory()
        let test = try SoftHSM.freshToken()
        _ = try place("p256", sensitive: true, extractable: true, on: test, in: dir)
        let out = dir.file("stuck.pfx")
        let password = try dir.write("pass", "cannot")
        let exported = try exportWithoutWrap(from: test, to: out, password: password, in: dir)
        #expect(exported.status == 1, "\(exported.stderr)")
        #expect(exported.stderr.contains("CKM_AES_KEY_WRAP_PAD") && exported.stderr.contains("does not offer"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
