import Foundation
import PKCS11
import TestSupport
import Testing

/// `certbridge tokens` and `certbridge objects`, end to end through the built binary against a
/// SoftHSM2 token holding keys made by the test itself.
@Suite("tokens and objects through the CLI")
struct InspectionTests {
    let softhsm = ["--module", SoftHSM.modulePath]

    @Test("tokens --json lists a fresh token with its PIN state and a URI that names it")
    func tokensJSON() throws {
        let test = try SoftHSM.freshToken()
        let tokens = try CLI.json([TokenJSON].self, ["tokens"] + softhsm)
        let token = try #require(tokens.first { $0.label == test.label })
        #expect(token.pinState == "ok")
        #expect(token.flags.contains("token-initialized"))
        #expect(try PKCS11URI(token.uri).token == test.label)
        let text = try CLI.run(["tokens"] + softhsm)
        #expect(text.status == 0)
        #expect(text.stdout.contains("token:         \(test.label)"))
    }

    @Test(
        "objects shows a generated non-extractable key as non-exportable and an imported extractable one as exportable, flag by flag"
    )
    func objectsVerdicts() throws {
        let test = try SoftHSM.freshToken()
        let dir = try TemporaryDirectory()
        let session = try test.userSession()
        _ = try session.generateKeyPair(
            Mechanism(.ecKeyPairGen),
            publicTemplate: [
                Attribute(.token, true), Attribute(.ecParams, bytes: p256), Attribute(.label, string: "generated"),
                Attribute(.id, bytes: [0xA1]),
            ],
            privateTemplate: [
                Attribute(.token, true), Attribute(.private, true), Attribute(.sign, true), Attribute(.sensitive, true),
                Attribute(.extractable, false), Attribute(.label, string: "generated"), Attribute(.id, bytes: [0xA1]),
            ])
        let rsa = try RSAComponents.generate(in: dir)
        _ = try session.createObject(
            rsa.privateTemplate(
                label: "imported", id: [0xB2],
                extraFlags: [
                    Attribute(.sensitive, true), Attribute(.extractable, true), Attribute(.alwaysAuthenticate, true),
                ]))
        _ = try session.createObject(rsa.publicTemplate(label: "imported", id: [0xB2]))

        let pinFile = try dir.write("pin", test.userPIN + "\n")
        let uri = "pkcs11:token=\(test.label)"
        let objects = try CLI.json([ObjectJSON].self, ["objects", uri, "--pin-source", "file:\(pinFile)"] + softhsm)

        /// The private key labelled `label`, with the verdict and every flag as listed.
        func key(_ label: String, verdict: String, flags: [String: Bool]) throws -> ObjectJSON {
            let key = try #require(objects.first { $0.class == "private-key" && $0.label == label })
            #expect(key.verdict == verdict, "\(label)")
            #expect(key.flags?.reported == flags, "\(label)")
            return key
        }
        let generated = try key(
            "generated", verdict: "non-exportable",
            flags: [
                "sensitive": true, "extractable": false, "alwaysAuthenticate": false, "neverExtractable": true,
                "alwaysSensitive": true, "local": true, "private": true,
            ])
        #expect(generated.keyType == "EC" && generated.curve == "P-256" && generated.keyBits == 256)
        #expect(generated.id == "a1")
        #expect(generated.securityLevel == "standard")

        let imported = try key(
            "imported", verdict: "exportable",
            flags: [
                "sensitive": true, "extractable": true, "alwaysAuthenticate": true, "neverExtractable": false,
                "alwaysSensitive": false, "local": false, "private": true,
            ])
        #expect(imported.keyType == "RSA" && imported.keyBits == 2048)
        #expect(imported.securityLevel == "high")
        #expect(objects.contains { $0.class == "public-key" && $0.label == "imported" })

        // The text view carries the same verdicts.
        let text = try CLI.run(
            ["objects", uri, "--pin-source", "env:TEST_PIN"] + softhsm, environment: ["TEST_PIN": test.userPIN])
        #expect(text.status == 0)
        #expect(text.stdout.contains("verdict:      non-exportable"))
        #expect(text.stdout.contains("verdict:      exportable"))
        #expect(text.stdout.contains("sensitive=yes extractable=yes always-authenticate=yes never-extractable=no"))
    }

    @Test("a certificate shows its names, validity and the key with the same id")
    func certificates() throws {
        let test = try SoftHSM.freshToken()
        let dir = try TemporaryDirectory()
        let rsa = try RSAComponents.generate(in: dir)
        let keyFile = try dir.write("key.pem", rsa.pem)
        let made = try run(
            "openssl",
            [
                "req", "-x509", "-key", keyFile, "-subj", "/CN=Alice Example/O=CertBridge Tests",
                "-days", "30", "-outform", "DER", "-out", dir.file("cert.der"),
            ])
        #expect(made.status == 0)
        let der = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("cert.der"))))
        let session = try test.userSession()
        _ = try session.createObject(
            rsa.privateTemplate(
                label: "alice", id: [7], extraFlags: [Attribute(.sensitive, true), Attribute(.extractable, false)]))
        _ = try session.createObject(try certificateTemplate(der: der, label: "alice", id: [7]))
        let objects = try CLI.json(
            [ObjectJSON].self, ["objects", "pkcs11:token=\(test.label)", "--pin-source", "fd:0"] + softhsm,
            input: test.userPIN + "\n")
        let cert = try #require(objects.first { $0.class == "certificate" })
        #expect(cert.certificate?.subject.contains("CN=Alice Example") == true)
        #expect(cert.certificate?.issuer == cert.certificate?.subject)
        let lifetime = try #require(cert.certificate).notAfter.timeIntervalSince(
            try #require(cert.certificate).notBefore)
        #expect(abs(lifetime - 30 * 86_400) < 5)
        #expect(cert.pairedWith == "alice")
        #expect(objects.first { $0.class == "private-key" }?.pairedWith == "alice")
    }

    @Test("a wrong PIN exits 4 naming CKR_PIN_INCORRECT and never shows the PIN")
    func wrongPIN() throws {
        let test = try SoftHSM.freshToken()
        let result = try CLI.run(
            ["objects", "pkcs11:token=\(test.label)", "--pin-source", "env:BAD_PIN"] + softhsm,
            environment: ["BAD_PIN": "98765"])
        #expect(result.status == 4)
        #expect(result.stderr.contains("CKR_PIN_INCORRECT"))
        #expect(!result.stderr.contains("98765") && !result.stdout.contains("98765"))
    }

    @Test("a missing token exits 5 and lists the tokens present")
    func missingToken() throws {
        let test = try SoftHSM.freshToken()
        let result = try CLI.run(["objects", "pkcs11:token=no-such-token", "--no-login"] + softhsm)
        #expect(result.status == 5)
        #expect(result.stderr.contains("no token matches pkcs11:token=no-such-token"))
        #expect(result.stderr.contains("\"\(test.label)\""))
    }

    @Test(
        "a bad URI exits 2 with the part that is wrong",
        arguments: [
            ("pkcs11:tokn=x", "\"tokn\" is not a path attribute"),
            ("pkcs11:token=x?pin-value=4321", "pin-value is refused"),
            ("token=x", "does not start with \"pkcs11:\""),
        ])
    func badURI(uri: String, message: String) throws {
        let result = try CLI.run(["objects", uri] + softhsm)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message))
        #expect(!result.stderr.contains("4321"))
    }

    @Test("with no terminal and no --pin-source, the login fails with a hint, not a hang")
    func noTerminal() throws {
        let test = try SoftHSM.freshToken()
        let result = try TestSupport.run(
            "/usr/bin/setsid", ["--wait", CLI.path, "objects", "pkcs11:token=\(test.label)"] + softhsm,
            environment: try SoftHSM.environment(), input: Data())
        #expect(result.status == 2)
        #expect(result.stderr.contains("--pin-source"))
    }

    @Test("a module path that does not load exits 5 naming it")
    func badModule() throws {
        let result = try CLI.run(["tokens", "--module", "/nonexistent/module.so"])
        #expect(result.status == 5)
        #expect(result.stderr.contains("/nonexistent/module.so"))
    }

    @Test("an unknown secret source is a usage error")
    func badSource() throws {
        let result = try CLI.run(["objects", "--pin-source", "argv:1234"] + softhsm)
        #expect(result.status == 2)
        #expect(result.stderr.contains("tty, file:PATH, env:NAME, fd:N"))
    }
}

let p256: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
