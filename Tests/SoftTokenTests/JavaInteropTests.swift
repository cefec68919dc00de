import Foundation
import TestSupport
import Testing

/// OpenJDK 17's SunPKCS11 on the software token with the config a user writes first (name and
/// library, nothing else): `Fixtures/java/TokenClient.java`, compiled here with javac, runs each
/// JCA operation on the token and checks it against the JDK's own providers; what it made is then
/// checked with openssl.
@Suite("software token with OpenJDK SunPKCS11")
struct JavaInteropTests {
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/java/TokenClient.java").path

    /// What OpenJDK 17's SunPKCS11 cannot do on any token, whatever the module offers.
    static let providerLimits: [String: String] = [
        "Signature Ed25519": "OpenJDK 17's SunPKCS11 has no EdDSA (CKM_EDDSA came to it in a later JDK)",
        "Cipher RSA/ECB/OAEPWithSHA-256AndMGF1Padding":
            "OpenJDK 17's SunPKCS11 RSA cipher knows only PKCS1Padding and NoPadding",
    ]

    @Test(
        "Signature (RSA, RSASSA-PSS, ECDSA), Cipher (RSA PKCS#1, AES-GCM, AES-CBC-PKCS5), KeyAgreement ECDH, KeyGenerator AES and Mac HmacSHA256 work on the token and agree with the JDK's providers and with openssl"
    )
    func sunPKCS11() throws {
        let (store, _) = try PrivateStore.withToken("java")
        let config = try store.dir.write("token.cfg", "name = CertBridge\nlibrary = \(SoftTokenRig.modulePath)\n")
        let classes = store.dir.file("classes")
        let made = store.dir.file("made")
        try FileManager.default.createDirectory(atPath: made, withIntermediateDirectories: false)
        let compiled = try run("javac", ["-d", classes, Self.source])
        try #require(compiled.status == 0, "javac: \(compiled.stderr)")
        var env = store.environment
        env["CERTBRIDGE_SOFTTOKEN_STRICT"] = "1"
        env["CERTBRIDGE_SOFTTOKEN_FSYNC"] = "0"
        let result = try run(
            "java", ["-cp", classes, "TokenClient", config, made], environment: env,
            input: Data((SoftTokenRig.userPIN + "\n").utf8))
        try #require(result.status == 0, "java: \(result.stdout) \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "PROVIDER SunPKCS11-CertBridge", "\(result.stdout)")
        var outcome: [String: String] = [:]
        for line in lines.dropFirst() {
            let word = line.prefix { $0 != " " }
            let name = line.dropFirst(word.count + 1).split(separator: ":").first.map(String.init) ?? ""
            outcome[name] = line
        }
        let required = [
            "Signature SHA256withRSA", "Signature RSASSA-PSS", "Signature SHA256withECDSA",
            "Cipher RSA/ECB/PKCS1Padding", "Cipher AES/GCM/NoPadding", "Cipher AES/CBC/PKCS5Padding",
            "KeyAgreement ECDH", "KeyGenerator AES", "Mac HmacSHA256",
        ]
        for name in required {
            #expect(outcome[name] == "PASS \(name)", "\(outcome[name] ?? "no line for \(name)"): \(result.stderr)")
        }
        for (name, why) in Self.providerLimits {
            withKnownIssue("\(why)") {
                #expect(outcome[name] == "PASS \(name)", "\(outcome[name] ?? "no line")")
            }
        }
        try OpenSSLCheck.all(in: made)
    }
}

/// What the Java cases left behind, checked with openssl (and, for AES-GCM, libcrypto through
/// Python's `cryptography`, as CipherTests does): the token's signatures verify, its ciphertexts
/// open, its MAC and its ECDH secret are openssl's.
enum OpenSSLCheck {
    static func all(in dir: String) throws {
        func path(_ name: String) -> String { "\(dir)/\(name)" }
        func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name)))) }
        func openssl(_ arguments: [String]) throws -> RunResult { try run("openssl", arguments) }

        // ECDH: openssl derives with the JDK's private key and the token's public key.
        let derived = try openssl([
            "pkeyutl", "-derive", "-keyform", "DER", "-inkey", path("ECDH.peer.der"), "-peerform", "DER",
            "-peerkey", path("ECDH.token.pub.der"),
        ])
        #expect(derived.status == 0, "\(derived.stderr)")
        #expect(Array(derived.stdoutData) == (try bytes("ECDH.secret")), "the token's ECDH secret is not openssl's")

        let signatures: [(String, [String])] = [
            ("SHA256withRSA", []),
            (
                "RSASSA-PSS",
                ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32", "-sigopt", "rsa_mgf1_md:sha256"]
            ),
            ("SHA256withECDSA", []),
        ]
        for (algorithm, options) in signatures {
            let verified = try openssl(
                ["dgst", "-sha256", "-keyform", "DER", "-verify", path("\(algorithm).pub.der")] + options + [
                    "-signature", path("\(algorithm).sig"), path("message.bin"),
                ])
            #expect(verified.status == 0 && verified.stdout.contains("Verified OK"), "\(algorithm): \(verified.stderr)")
        }

        let opened = try openssl([
            "pkeyutl", "-decrypt", "-keyform", "DER", "-inkey", path("RSA_ECB_PKCS1Padding.key.der"), "-in",
            path("RSA_ECB_PKCS1Padding.sealed"),
        ])
        #expect(opened.status == 0, "\(opened.stderr)")
        #expect(Array(opened.stdoutData) == (try bytes("RSA_ECB_PKCS1Padding.plain")))

        let cbc = "AES_CBC_PKCS5Padding"
        let decrypted = try openssl([
            "enc", "-d", "-aes-256-cbc", "-K", hexString(try bytes("\(cbc).key")), "-iv",
            hexString(try bytes("\(cbc).iv")), "-in", path("\(cbc).sealed"),
        ])
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        #expect(Array(decrypted.stdoutData) == (try bytes("\(cbc).plain")))

        let gcm = "AES_GCM_NoPadding"
        let sealed = try CipherTests.reference(
            mode: "GCM", key: try bytes("\(gcm).key"), iv: try bytes("\(gcm).iv"), data: try bytes("\(gcm).plain"),
            aad: Array("header".utf8))
        #expect(sealed == (try bytes("\(gcm).sealed")), "the token's AES-GCM ciphertext is not libcrypto's")

        let mac = try openssl([
            "mac", "-digest", "SHA256", "-macopt", "hexkey:\(hexString(try bytes("HmacSHA256.key")))", "-in",
            path("message.bin"), "HMAC",
        ])
        #expect(mac.status == 0, "\(mac.stderr)")
        #expect(
            hexBytes(mac.stdout.trimmingCharacters(in: .whitespacesAndNewlines).lowercased())
                == (try bytes("HmacSHA256.mac")))
    }
}
