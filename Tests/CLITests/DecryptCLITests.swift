import Foundation
import PKCS11
import TestSupport
import Testing

/// `certbridge decrypt` and `certbridge encrypt` end to end: openssl as the sender (and as the
/// reader of what certbridge writes), a key imported from an openssl-made PFX onto a real token.
@Suite("decryption and encryption through the CLI")
struct DecryptCLITests {
    enum KeyKind: String, CaseIterable, CustomStringConvertible {
        case rsa, p256, p384
        var description: String { rawValue }
        var newkey: [String] {
            switch self {
            case .rsa: ["-newkey", "rsa:2048"]
            case .p256: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
            case .p384: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]
            }
        }
    }

    /// A fresh token holding one imported key pair, its openssl files, and a message.
    @dynamicMemberLookup
    struct Rig {
        let base: FixtureRig
        let message: String
        let keyPEM: String
        let certPEM: String
        let uri: String

        init(_ fixture: any TokenFixture, _ kind: KeyKind, securityLevel: String = "standard") throws {
            base = try FixtureRig(fixture)
            let dir = base.dir
            let passwordFile = try dir.write("pw", "pfx-pw\n")
            keyPEM = dir.file("key.pem")
            certPEM = dir.file("cert.pem")
            let made = try run(
                "openssl",
                ["req", "-x509"] + kind.newkey + [
                    "-nodes", "-keyout", keyPEM, "-out", certPEM,
                    "-subj", "/CN=enc-\(kind)", "-days", "30",
                    "-addext", "keyUsage=\(kind == .rsa ? "keyEncipherment" : "keyAgreement")",
                ])
            try #require(made.status == 0, "\(made.stderr)")
            let pfx = dir.file("key.pfx")
            let exported = try run(
                "openssl",
                ["pkcs12", "-export", "-inkey", keyPEM, "-in", certPEM, "-out", pfx, "-passout", "pass:pfx-pw"])
            try #require(exported.status == 0, "\(exported.stderr)")
            var bytes = [UInt8](repeating: 0, count: 3000)
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
            message = dir.file("message")
            try Data(bytes).write(to: URL(fileURLWithPath: message))
            uri = "\(base.tokenURI);object=enc"
            let imported = try base.certbridgeWithPIN([
                "import", pfx, "--token", base.tokenURI, "--label", "enc",
                "--security-level", securityLevel, "--password-source", "file:\(passwordFile)",
            ])
            try #require(imported.status == 0, "import: \(imported.stderr)")
        }

        subscript<T>(dynamicMember keyPath: KeyPath<FixtureRig, T>) -> T { base[keyPath: keyPath] }

        func certbridge(_ arguments: [String]) throws -> RunResult { try base.certbridgeWithPIN(arguments) }

        func sameAsMessage(_ path: String) -> Bool {
            FileManager.default.contentsEqual(atPath: path, andPath: message)
        }
    }

    /// How openssl writes each sending case: extra arguments for `openssl cms -encrypt`.
    static let senders: [KeyKind: [(name: String, arguments: [String])]] = [
        .rsa: [
            ("pkcs1-der-aes256cbc", ["-outform", "DER", "-aes-256-cbc"]),
            ("oaep-pem-aes128cbc", ["-outform", "PEM", "-aes-128-cbc", "-keyopt", "rsa_padding_mode:oaep"]),
            ("oaep-smime-gcm", ["-aes-256-gcm", "-keyopt", "rsa_padding_mode:oaep"]),
            ("pkcs1-der-3des", ["-outform", "DER", "-des3"]),
        ],
        .p256: [
            ("smime-default", []),
            ("der-sha256kdf-aes128", ["-outform", "DER", "-aes-128-cbc", "-keyopt", "ecdh_kdf_md:sha256"]),
            ("pem-gcm", ["-outform", "PEM", "-aes-256-gcm"]),
        ],
        .p384: [
            ("der-sha384kdf", ["-outform", "DER", "-keyopt", "ecdh_kdf_md:sha384"]), ("smime-aes192", ["-aes-192-cbc"]),
        ],
    ]

    @Test(
        "a file openssl cms -encrypt made for the token key's certificate decrypts to the original bytes",
        arguments: TokenFixtures.all, KeyKind.allCases)
    func opensslSenderDecrypts(fixture: any TokenFixture, kind: KeyKind) throws {
        let rig = try Rig(fixture, kind)
        for sender in Self.senders[kind]! {
            let encrypted = rig.dir.file("\(sender.name).p7m")
            let made = try run(
                "openssl",
                ["cms", "-encrypt", "-binary", "-in", rig.message, "-out", encrypted, "-recip", rig.certPEM]
                    + sender.arguments)
            try #require(made.status == 0, "\(sender.name): \(made.stderr)")
            let out = rig.dir.file("\(sender.name).out")
            let decrypted = try rig.certbridge(["decrypt", rig.uri, "--in", encrypted, "--out", out])
            try #require(decrypted.status == 0, "\(sender.name): \(decrypted.stderr)")
            #expect(rig.sameAsMessage(out), "\(sender.name): the decrypted bytes differ from the message")
            #expect(decrypted.stdout.contains(kind == .rsa ? "C_Decrypt" : "C_DeriveKey"), "\(decrypted.stdout)")
            let mode = try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
    }

    @Test(
        "RSA-OAEP with SHA-256 decrypts where the token does it, else fails with one sentence naming OAEP",
        arguments: TokenFixtures.all)
    func oaepSHA256DecryptsOrSaysWhy(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, .rsa)
        let encrypted = rig.dir.file("sha256.p7m")
        let made = try run(
            "openssl",
            [
                "cms", "-encrypt", "-binary", "-in", rig.message, "-out", encrypted, "-outform", "DER", "-recip",
                rig.certPEM,
                "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256", "-keyopt", "rsa_mgf1_md:sha256",
            ])
        try #require(made.status == 0, "\(made.stderr)")
        let out = rig.dir.file("sha256.out")
        let decrypted = try rig.certbridge(["decrypt", rig.uri, "--in", encrypted, "--out", out])
        if decrypted.status == 0 {
            #expect(rig.sameAsMessage(out))
        } else {
            #expect(
                decrypted.status == 1 && decrypted.stderr.contains("CKM_RSA_PKCS_OAEP and this OAEP digest"),
                "\(decrypted.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test(
        "certbridge encrypt to a token key's URI and to a certificate file: openssl cms -decrypt reads it with the PFX's key",
        arguments: TokenFixtures.all, KeyKind.allCases)
    func encryptReadsWithOpenSSL(fixture: any TokenFixture, kind: KeyKind) throws {
        let rig = try Rig(fixture, kind)
        let cases: [(String, [String])] = [
            ("uri-der", ["--to", rig.uri]),
            ("file-pem-gcm", ["--to", rig.certPEM, "--format", "pem", "--cipher", "aes-256-gcm"]),
            ("uri-oaep", ["--to", rig.uri, "--rsa-padding", "oaep", "--cipher", "aes-128-cbc"]),
        ]
        for (name, arguments) in cases {
            let encrypted = rig.dir.file("\(name).cms")
            let made = try rig.certbridge(["encrypt", "--in", rig.message, "--out", encrypted] + arguments)
            try #require(made.status == 0, "\(name): \(made.stderr)")
            let out = rig.dir.file("\(name).out")
            let read = try run(
                "openssl",
                [
                    "cms", "-decrypt", "-binary", "-inform", name.contains("pem") ? "PEM" : "DER", "-in", encrypted,
                    "-inkey", rig.keyPEM, "-recip", rig.certPEM, "-out", out,
                ])
            try #require(read.status == 0, "\(name): openssl cms -decrypt: \(read.stderr)")
            #expect(rig.sameAsMessage(out), "\(name): openssl decrypted other bytes")
            if name == "uri-oaep", kind == .rsa {
                let printed = try run("openssl", ["cms", "-cmsout", "-print", "-inform", "DER", "-in", encrypted])
                #expect(printed.stdout.contains("rsaesOaep"), "\(printed.stdout)")
            }
        }
    }

    @Test(
        "a High key asks for its approval once per decryption, and a wrong one is exit 4",
        arguments: TokenFixtures.all, [KeyKind.rsa, .p256])
    func highKeyApprovesEachDecryption(fixture: any TokenFixture, kind: KeyKind) throws {
        let rig = try Rig(fixture, kind, securityLevel: "high")
        let encrypted = rig.dir.file("high.p7m")
        let made = try rig.certbridge(["encrypt", "--to", rig.uri, "--in", rig.message, "--out", encrypted])
        try #require(made.status == 0, "\(made.stderr)")
        for round in 1...2 {
            let out = rig.dir.file("high-\(round).out")
            let decrypted = try rig.certbridge(["decrypt", rig.uri, "--in", encrypted, "--out", out, "--json"])
            try #require(decrypted.status == 0, "round \(round): \(decrypted.stderr)")
            #expect(rig.sameAsMessage(out))
            if kind == .rsa { #expect(decrypted.stdout.contains("CKU_CONTEXT_SPECIFIC"), "\(decrypted.stdout)") }
        }
        if kind == .rsa {
            let wrong = try rig.dir.write("wrong", "not-the-password\n")
            let refused = try rig.certbridge([
                "decrypt", rig.uri, "--in", encrypted, "--out", rig.dir.file("wrong.out"),
                "--key-password-source", "file:\(wrong)",
            ])
            #expect(refused.status == 4, "\(refused.status): \(refused.stderr)")
        }
    }

    @Test(
        "sign refuses a key whose certificate allows only keyEncipherment, with one sentence",
        arguments: [SoftHSMFixture()])
    func signRefusesEncryptionCertificate(fixture: SoftHSMFixture) throws {
        let rig = try Rig(fixture, .rsa)
        let signed = try rig.certbridge(["sign", rig.uri, "--in", rig.message, "--out", rig.dir.file("sig")])
        #expect(signed.status == 2, "\(signed.status): \(signed.stderr)")
        #expect(
            signed.stderr.contains("does not allow signing") && signed.stderr.contains("keyEncipherment"),
            "\(signed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: rig.dir.file("sig")))
    }

    @Test("decrypting with a key the file is not for names the certificate and fails", arguments: [SoftHSMFixture()])
    func otherRecipientIsRefused(fixture: SoftHSMFixture) throws {
        let rig = try Rig(fixture, .rsa)
        let other = rig.dir.file("other.pem")
        let made = try run(
            "openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", rig.dir.file("other.key"),
                "-out", other, "-subj", "/CN=someone else", "-days", "1",
            ])
        try #require(made.status == 0)
        let encrypted = rig.dir.file("other.p7m")
        _ = try run(
            "openssl",
            ["cms", "-encrypt", "-binary", "-in", rig.message, "-out", encrypted, "-outform", "DER", "-recip", other])
        let decrypted = try rig.certbridge(["decrypt", rig.uri, "--in", encrypted, "--out", rig.dir.file("other.out")])
        #expect(decrypted.status == 5, "\(decrypted.status): \(decrypted.stderr)")
        #expect(decrypted.stderr.contains("not encrypted to the certificate"), "\(decrypted.stderr)")
        #expect(!FileManager.default.fileExists(atPath: rig.dir.file("other.out")))
    }
}
