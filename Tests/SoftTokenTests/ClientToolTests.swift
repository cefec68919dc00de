import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// More programs that load `libcertbridge-softtoken.so` themselves: OpenSC's `pkcs11-tool -M`,
/// GnuTLS's `p11tool --list-mechanisms`, NSS's `certutil` (the module added with `modutil`) and
/// OpenSSL with libp11's engine, each checked against what the token holds or OpenSSL computes.
@Suite("software token with pkcs11-tool -M, p11tool, NSS certutil and libp11")
struct ClientToolTests {
    @Test(
        "pkcs11-tool -M and p11tool --list-mechanisms list the wrap mechanisms with their wrap/unwrap flags and key sizes"
    )
    func mechanismListings() throws {
        let store = try PrivateStore()
        let label = "mech-\(UInt32.random(in: 0...UInt32.max))"
        try store.initializeToken(label: label)
        let listed = try OtherProcess.pkcs11Tool(["--token-label", label, "-M"], environment: store.environment)
        #expect(listed.status == 0, "\(listed.stderr)")
        let lines = listed.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        // The line after the name (OpenSC 0.23 names some mechanisms only by number).
        func line(_ names: String...) -> String? {
            for name in names {
                if let found = lines.first(where: { $0.hasPrefix(name + ",") }) {
                    return String(found.dropFirst(name.count))
                }
            }
            return nil
        }
        #expect(line("AES-KEY-WRAP", "mechtype-0x2109") == ", keySize={16,32}, wrap, unwrap", "\(listed.stdout)")
        #expect(line("AES-KEY-WRAP-PAD", "mechtype-0x210A") == ", keySize={16,32}, wrap, unwrap", "\(listed.stdout)")
        #expect(line("RSA-PKCS-OAEP") == ", keySize={1024,4096}, encrypt, decrypt, wrap, unwrap", "\(listed.stdout)")
        #expect(line("RSA-PKCS")?.contains("encrypt, decrypt, sign, verify, wrap, unwrap") == true, "\(listed.stdout)")

        let gnutls = try run(
            "p11tool", ["--provider", SoftTokenRig.modulePath, "--list-mechanisms", "pkcs11:token=\(label)"],
            environment: store.environment)
        #expect(gnutls.status == 0, "\(gnutls.stderr)")
        for name in [
            "CKM_AES_KEY_WRAP ", "CKM_AES_KEY_WRAP_PAD", "CKM_RSA_PKCS_OAEP", "CKM_AES_GCM", "CKM_SHA256_HMAC",
        ] {
            #expect(gnutls.stdout.contains(name), "p11tool lists no \(name): \(gnutls.stdout)")
        }
    }

    @Test("NSS certutil -L lists a certificate on the token once modutil has added the module")
    func nssCertutil() throws {
        let store = try PrivateStore()
        let label = "nss-\(UInt32.random(in: 0...UInt32.max))"
        try store.initializeToken(label: label)
        let key = try ECComponents.generate(in: store.dir)
        let certificate = try makeCertificate(keyPEM: key.pem, subject: "/CN=NSS on CertBridge", in: store.dir)
        let der = store.dir.file("cert.der")
        try Data(certificate.der).write(to: URL(fileURLWithPath: der))
        let written = try OtherProcess.pkcs11Tool(
            [
                "--token-label", label, "--login", "--pin", SoftTokenRig.userPIN, "--write-object", der,
                "--type", "cert", "--label", "nss-cert", "--id", "0a",
            ], environment: store.environment)
        try #require(written.status == 0, "\(written.stderr)")

        // Strict: no protected authentication path, so NSS logs in with the PIN from its -f file
        // (it would otherwise ask the module's own pinentry, which has no terminal here).
        var env = store.environment
        env["CERTBRIDGE_SOFTTOKEN_STRICT"] = "1"
        let pinFile = try store.dir.write("pin", SoftTokenRig.userPIN + "\n")
        let db = "sql:" + store.dir.file("nssdb")
        try FileManager.default.createDirectory(atPath: store.dir.file("nssdb"), withIntermediateDirectories: true)
        let created = try run("certutil", ["-N", "-d", db, "--empty-password"])
        try #require(created.status == 0, "\(created.stderr)")
        let added = try run(
            "modutil", ["-dbdir", db, "-add", "certbridge", "-libfile", SoftTokenRig.modulePath, "-force"],
            environment: env)
        try #require(added.status == 0, "modutil: \(added.stdout) \(added.stderr)")
        let modules = try run("modutil", ["-dbdir", db, "-list"], environment: env)
        #expect(modules.stdout.contains("token: \(label)"), "\(modules.stdout)")
        let listed = try run("certutil", ["-L", "-d", db, "-h", label, "-f", pinFile], environment: env)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("\(label):nss-cert"), "\(listed.stdout)")
    }

    @Test("OpenSSL's libp11 engine decrypts on the token what openssl pkeyutl encrypted to the same RSA key")
    func libp11Decryption() throws {
        let dir = try TemporaryDirectory()
        let components = try RSAComponents.generate(bits: 2048, in: dir)
        let pem = try dir.write("key.pem", components.pem)
        let test = try SoftTokenRig.freshToken()
        let session = try test.userSession()
        _ = try session.createObject(
            components.privateTemplate(label: "decrypter", id: [0x44], extraFlags: [Attribute(.decrypt, true)]))
        _ = try session.createObject(
            components.publicTemplate(label: "decrypter", id: [0x44]) + [Attribute(.encrypt, true)])
        let pinFile = try dir.write("pin", SoftTokenRig.userPIN)
        let secret = Array("the engine opens this on the token".utf8)
        let plainFile = dir.file("plain.bin")
        let cipherFile = dir.file("cipher.bin")
        let outFile = dir.file("out.bin")
        try Data(secret).write(to: URL(fileURLWithPath: plainFile))
        var env = try SoftTokenRig.environment()
        env["PKCS11_MODULE_PATH"] = SoftTokenRig.modulePath
        let uri = "pkcs11:token=\(test.label);object=decrypter;type=private?pin-source=file:\(pinFile)"
        let sealed = try run("openssl", ["pkeyutl", "-encrypt", "-inkey", pem, "-in", plainFile, "-out", cipherFile])
        try #require(sealed.status == 0, "\(sealed.stderr)")
        let opened = try run(
            "openssl",
            [
                "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey", uri, "-decrypt",
                "-in", cipherFile, "-out", outFile,
            ], environment: env)
        #expect(opened.status == 0, "\(opened.stderr)")
        #expect(Array((try? Data(contentsOf: URL(fileURLWithPath: outFile))) ?? Data()) == secret)
        // Another key's ciphertext does not open: the token really decrypts.
        let other = try RSAComponents.generate(bits: 2048, in: dir)
        let otherPEM = try dir.write("other.pem", other.pem)
        _ = try run("openssl", ["pkeyutl", "-encrypt", "-inkey", otherPEM, "-in", plainFile, "-out", cipherFile])
        let refused = try run(
            "openssl",
            [
                "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey", uri, "-decrypt",
                "-in", cipherFile, "-out", dir.file("refused.bin"),
            ], environment: env)
        #expect(refused.status != 0)
    }
}
