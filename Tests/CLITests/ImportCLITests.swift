import Foundation
import PKCS11
import TestSupport
import Testing

/// `certbridge import` end to end: PFX files made by openssl onto SoftHSM2 and the software token,
/// flags read back, signatures that verify against the imported certificate, and nothing lost
/// on failure.
@Suite("import through the CLI")
struct ImportCLITests {
    func importArgs(_ pfx: PFXFixture, _ test: TestToken, _ extra: [String] = []) -> [String] {
        [
            "import", pfx.path, "--token", "pkcs11:token=\(test.label)", "--password-source",
            "file:\(pfx.passwordFile)",
            "--pin-source", "env:PIN", "--module", test.module.path,
        ] + extra
    }

    /// Signs a digest with the imported key through PKCS#11 (with a context login for High
    /// keys) and checks the signature with openssl against the imported certificate.
    func signatureVerifies(
        _ test: TestToken, id: String, pfx: PFXFixture, ec: Bool, high: Bool, dir: TemporaryDirectory
    ) throws -> Bool {
        let session = try test.userSession()
        let key = try session.findObject(
            [Attribute(.privateKey), Attribute(.id, bytes: hexBytes(id))], what: "the key")
        let message = Array("certbridge import check".utf8)
        let messageFile = dir.file("message-\(id)")
        try Data(message).write(to: URL(fileURLWithPath: messageFile))
        let digest = try run("openssl", ["dgst", "-sha256", "-binary", messageFile]).stdoutData
        var toSign = [UInt8](digest)
        if !ec {
            toSign =
                [
                    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
                    0x00, 0x04, 0x20,
                ] + toSign
        }
        let mechanism = Mechanism(ec ? .ecdsa : .rsaPKCS)
        if high {
            // Without the context login the token refuses.
            try session.signInit(mechanism, key: key)
            #expect(throws: PKCS11Error.self) { try session.sign(toSign) }
        }
        try session.signInit(mechanism, key: key)
        if high { try session.login(.contextSpecific, pin: test.pin) }
        var signature = try session.sign(toSign)
        if ec { signature = derECDSA(signature) }
        let sigFile = dir.file("sig-\(id)")
        try Data(signature).write(to: URL(fileURLWithPath: sigFile))
        let pub = dir.file("pub-\(id).pem")
        try run("openssl", ["x509", "-in", pfx.certificatePEM, "-pubkey", "-noout", "-out", pub])
        return try run("openssl", ["dgst", "-sha256", "-verify", pub, "-signature", sigFile, messageFile]).status == 0
    }

    @Test(
        "modern and legacy, RSA and EC, chain and not, exportable and not, standard and high: flags read back match",
        arguments: TokenFixtures.all,
        [
            ([String](), nil as String?, true, false, "standard"),
            (["-legacy"], nil, true, true, "high"),
            ([], "prime256v1", false, true, "standard"),
            (["-legacy"], "secp384r1", true, false, "high"),
            (["-keypbe", "NONE", "-certpbe", "NONE"], nil, false, false, "standard"),
        ])
    func lands(fixture: any TokenFixture, landing: ([String], String?, Bool, Bool, String)) throws {
        let (pkcs12Options, curve, chain, exportable, level) = landing
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: curve, chain: chain, extra: pkcs12Options, in: dir)
        let test = try fixture.freshToken()
        var extra = ["--security-level", level, "--json"]
        if exportable { extra.append("--exportable") }
        let run = try CLI.run(importArgs(pfx, test, extra), environment: ["PIN": test.userPIN])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try run.json(ImportJSON.self)
        let key = try #require(result.objects.first { $0.class == "private-key" })
        #expect(key.flags?.extractable == exportable)
        #expect(key.flags?.sensitive == true)
        #expect(key.flags?.alwaysAuthenticate == (level == "high"))
        #expect(key.verdict == (exportable ? "exportable" : "non-exportable"))
        #expect(result.objects.filter { $0.certificate?.category == "authority" }.count == (chain ? 2 : 0))
        #expect(try signatureVerifies(test, id: result.id, pfx: pfx, ec: curve != nil, high: level == "high", dir: dir))
    }

    @Test(
        "RSA 1024 and 4096 and EC P-521 land with their size read back, sign for the imported certificate, and pass test-sign",
        arguments: TokenFixtures.all,
        [
            (1024, nil as String?), (4096, nil), (2048, "secp521r1"),
        ])
    func keySizes(fixture: any TokenFixture, size: (Int, String?)) throws {
        let (rsaBits, curve) = size
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: curve, rsaBits: rsaBits, chain: false, in: dir)
        let test = try fixture.freshToken()
        let result = try CLI.json(
            ImportJSON.self, importArgs(pfx, test, ["--label", "sized"]), environment: ["PIN": test.userPIN])
        let key = try #require(result.objects.first { $0.class == "private-key" })
        if curve != nil {
            #expect(key.curve == "P-521" && key.keyBits == 521)
        } else {
            #expect(key.keyBits == rsaBits)
        }
        #expect(try signatureVerifies(test, id: result.id, pfx: pfx, ec: curve != nil, high: false, dir: dir))
        // CertBridge's own self-test signs and checks against the certificate, whatever the size.
        let selfTest = try CLI.run(
            [
                "test-sign", "pkcs11:token=\(test.label);object=sized", "--pin-source", "env:PIN", "--module",
                test.module.path,
            ],
            environment: ["PIN": test.userPIN])
        #expect(selfTest.status == 0, "\(selfTest.stdout) \(selfTest.stderr)")
    }

    @Test("--no-chain leaves the CA certificates out; --label names key and certificate", arguments: TokenFixtures.all)
    func noChainAndLabel(fixture: any TokenFixture) throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(name: "Zoë Müller 証明書", in: dir)
        let test = try fixture.freshToken()
        let result = try CLI.json(
            ImportJSON.self, importArgs(pfx, test, ["--no-chain"]), environment: ["PIN": test.userPIN])
        #expect(result.label == "Zoë Müller 証明書", "the friendlyName is the default label")
        #expect(result.objects.filter { $0.class == "certificate" }.count == 1)
        let other = try fixture.freshToken()
        let labelled = try CLI.json(
            ImportJSON.self, importArgs(pfx, other, ["--label", "alice"]), environment: ["PIN": other.userPIN])
        #expect(labelled.objects.allSatisfy { $0.class != "private-key" || $0.label == "alice" })
    }

    @Test("a wrong password exits 4 and leaves the token exactly as it was", arguments: TokenFixtures.all)
    func wrongPassword(fixture: any TokenFixture) throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(in: dir)
        let test = try fixture.freshToken()
        let before = try test.snapshot()
        let wrong = try dir.write("wrong", "not-the-password")
        let args = [
            "import", pfx.path, "--token", "pkcs11:token=\(test.label)", "--password-source", "file:\(wrong)",
            "--pin-source", "env:PIN", "--module", test.module.path,
        ]
        let result = try CLI.run(args, environment: ["PIN": test.userPIN])
        #expect(result.status == 4)
        #expect(result.stderr.contains("wrong password"))
        #expect(!result.stderr.contains("not-the-password"))
        #expect(try test.snapshot() == before)
    }

    @Test(
        "a truncated file and a file with a flipped byte are refused and leave the token as it was",
        arguments: TokenFixtures.all, ["truncate", "flip"])
    func damaged(fixture: any TokenFixture, how: String) throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(in: dir)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: pfx.path)))
        if how == "truncate" { bytes.removeLast(bytes.count / 3) } else { bytes[bytes.count / 2] ^= 0x5A }
        try Data(bytes).write(to: URL(fileURLWithPath: pfx.path))
        let test = try fixture.freshToken()
        let before = try test.snapshot()
        let result = try CLI.run(importArgs(pfx, test), environment: ["PIN": test.userPIN])
        #expect(
            result.status == 1 || result.status == 4,
            "damage is an error (1), or indistinguishable from a wrong password (4)")
        #expect(result.stderr.contains("damaged"))
        #expect(try test.snapshot() == before)
    }

    @Test("importing the same key again is refused without --replace", arguments: TokenFixtures.all)
    func duplicate(fixture: any TokenFixture) throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: dir)
        let test = try fixture.freshToken()
        #expect(try CLI.run(importArgs(pfx, test), environment: ["PIN": test.userPIN]).status == 0)
        let again = try CLI.run(importArgs(pfx, test), environment: ["PIN": test.userPIN])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already on"))
        #expect(try CLI.run(importArgs(pfx, test, ["--replace"]), environment: ["PIN": test.userPIN]).status == 0)
    }

    @Test("pfx inspect shows the algorithms and warns about weak ones; a wrong password exits 4")
    func inspect() throws {
        let dir = try TemporaryDirectory()
        let legacy = try PFXFixture.make(extra: ["-legacy"], in: dir)
        let text = try CLI.run(["pfx", "inspect", legacy.path, "--password-source", "file:\(legacy.passwordFile)"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("pbeWithSHAAnd40BitRC2-CBC"))
        #expect(text.stdout.contains("pbeWithSHAAnd3-KeyTripleDES-CBC"))
        #expect(text.stdout.contains("the MAC uses SHA-1"))
        #expect(text.stdout.contains("chain:"))
        let wrong = try dir.write("wrong", "nope")
        #expect(try CLI.run(["pfx", "inspect", legacy.path, "--password-source", "file:\(wrong)"]).status == 4)
    }
}

/// Raw r‖s (PKCS#11 ECDSA) as the DER SEQUENCE openssl verifies.
func derECDSA(_ raw: [UInt8]) -> [UInt8] {
    func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var value = Array(bytes.drop { $0 == 0 })
        if value.isEmpty { value = [0] }
        if value[0] & 0x80 != 0 { value.insert(0, at: 0) }
        return [0x02, UInt8(value.count)] + value
    }
    let half = raw.count / 2
    let body = integer(raw[..<half]) + integer(raw[half...])
    return [0x30] + (body.count < 0x80 ? [UInt8(body.count)] : [0x81, UInt8(body.count)]) + body
}
