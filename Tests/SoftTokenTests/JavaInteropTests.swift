import Foundation
import TestSupport
import Testing

/// OpenJDK 17's SunPKCS11 on the software token with the config a user writes first (name and
/// library, nothing else): `Fixtures/java/TokenClient.java`, compiled here with javac, runs each
/// JCA operation on the token and checks it against the JDK's own providers.
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
        "Signature (RSA, RSASSA-PSS, ECDSA), Cipher (RSA PKCS#1, AES-GCM, AES-CBC-PKCS5), KeyGenerator AES and Mac HmacSHA256 work on the token and agree with the JDK's providers"
    )
    func sunPKCS11() throws {
        let store = try PrivateStore()
        let label = "java-\(UInt32.random(in: 0...UInt32.max))"
        try store.initializeToken(label: label)
        let config = try store.dir.write("token.cfg", "name = CertBridge\nlibrary = \(SoftTokenRig.modulePath)\n")
        let classes = store.dir.file("classes")
        let compiled = try run("javac", ["-d", classes, Self.source])
        try #require(compiled.status == 0, "javac: \(compiled.stderr)")
        var env = store.environment
        env["CERTBRIDGE_SOFTTOKEN_STRICT"] = "1"
        env["CERTBRIDGE_SOFTTOKEN_FSYNC"] = "0"
        let result = try run(
            "java", ["-cp", classes, "TokenClient", config], environment: env,
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
            "Cipher RSA/ECB/PKCS1Padding",
            "Cipher AES/GCM/NoPadding", "Cipher AES/CBC/PKCS5Padding", "KeyGenerator AES", "Mac HmacSHA256",
        ]
        for name in required {
            #expect(outcome[name] == "PASS \(name)", "\(outcome[name] ?? "no line for \(name)"): \(result.stderr)")
        }
        for (name, why) in Self.providerLimits {
            withKnownIssue("\(why)") {
                #expect(outcome[name] == "PASS \(name)", "\(outcome[name] ?? "no line")")
            }
        }
        // The token offers CKM_ECDH1_DERIVE, but SunPKCS11's KeyAgreement derives with a template
        // of class and key type only and then reads CKA_VALUE, while the software token makes a
        // derived key sensitive unless the template says otherwise: a known gap of issue 15.
        let offered = try SoftTokenRig.freshToken().token().slot.mechanisms()
        #expect(offered.contains(.ecdh1Derive))
        withKnownIssue("derived keys default to CKA_SENSITIVE=true; SunPKCS11 reads the derived CKA_VALUE") {
            #expect(
                outcome["KeyAgreement ECDH"] == "PASS KeyAgreement ECDH", "\(outcome["KeyAgreement ECDH"] ?? "no line")"
            )
        }
    }
}
