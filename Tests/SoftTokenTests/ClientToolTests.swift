import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// More programs that load `libcertbridge-softtoken.so` themselves: OpenSC's `pkcs11-tool` (`-M`,
/// `--derive`, Ed25519 key generation), GnuTLS's `p11tool --list-mechanisms`, NSS's `certutil`
/// (the module added with `modutil`) and OpenSSL with libp11's engine, each checked against what
/// the token holds or OpenSSL computes.
@Suite("software token with pkcs11-tool -M, p11tool, NSS certutil and libp11")
struct ClientToolTests {
    @Test(
        "pkcs11-tool -M and p11tool --list-mechanisms list the wrap mechanisms with their wrap/unwrap flags and key sizes"
    )
    func mechanismListings() throws {
        let (store, label) = try PrivateStore.withToken("mech")
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

    @Test(
        "pkcs11-tool --keypairgen --usage-derive then --derive -m ECDH1-DERIVE on P-256 and P-521: the secret equals openssl pkeyutl -derive for the same keys"
    )
    func pkcs11ToolDerive() throws {
        let (store, label) = try PrivateStore.withToken("derive")
        let login = ["--token-label", label, "--login", "--pin", SoftTokenRig.userPIN]
        // Not P-384: OpenSC 0.23's --read-object of a P-384 public key fails ("cannot create
        // EVP_PKEY") on SoftHSM2 as here; DeriveTests checks P-384 against openssl.
        for (index, curve) in ["prime256v1", "secp521r1"].enumerated() {
            let id = "0\(index + 1)"
            let made = try OtherProcess.pkcs11Tool(
                login + ["--keypairgen", "--key-type", "EC:\(curve)", "--usage-derive", "--id", id, "--label", curve],
                environment: store.environment)
            try #require(made.status == 0, "\(curve): \(made.stderr)")
            let tokenPublic = store.dir.file("\(curve)-token.pub")
            let read = try OtherProcess.pkcs11Tool(
                login + ["--read-object", "--type", "pubkey", "--id", id, "-o", tokenPublic],
                environment: store.environment)
            try #require(read.status == 0, "\(read.stderr)")
            let peer = store.dir.file("\(curve)-peer.pem")
            let peerPublic = store.dir.file("\(curve)-peer.pub.der")
            try #require(
                try run("openssl", ["ecparam", "-name", curve, "-genkey", "-noout", "-out", peer]).status == 0)
            try #require(
                try run("openssl", ["pkey", "-in", peer, "-pubout", "-outform", "DER", "-out", peerPublic]).status == 0)
            let secret = store.dir.file("\(curve)-token.z")
            let derived = try OtherProcess.pkcs11Tool(
                login + [
                    "--derive", "-m", "ECDH1-DERIVE", "--id", id, "--input-file", peerPublic, "--output-file", secret,
                ], environment: store.environment)
            #expect(derived.status == 0, "\(curve): \(derived.stderr)")
            let reference = try run(
                "openssl", ["pkeyutl", "-derive", "-inkey", peer, "-peerkey", tokenPublic, "-peerform", "DER"])
            try #require(reference.status == 0, "\(reference.stderr)")
            let z = try Data(contentsOf: URL(fileURLWithPath: secret))
            #expect(z.count == [32, 66][index], "\(curve)")
            #expect(z == reference.stdoutData, "\(curve): pkcs11-tool's secret is not openssl's")
        }
    }

    @Test(
        "pkcs11-tool --keypairgen --key-type EC:edwards25519 makes an Ed25519 key; its -m EDDSA signature verifies with openssl, not over another message"
    )
    func pkcs11ToolEd25519() throws {
        let (store, label) = try PrivateStore.withToken("ed")
        let login = ["--token-label", label, "--login", "--pin", SoftTokenRig.userPIN]
        let made = try OtherProcess.pkcs11Tool(
            login + ["--keypairgen", "--key-type", "EC:edwards25519", "--id", "0e", "--label", "ed"],
            environment: store.environment)
        try #require(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.contains("Private Key Object; EC_EDWARDS"), "\(made.stdout)")
        let message = try store.dir.write("message", "signed by pkcs11-tool on the software token")
        let other = try store.dir.write("other", "another message")
        let signature = store.dir.file("sig")
        let signed = try OtherProcess.pkcs11Tool(
            login + ["--sign", "-m", "EDDSA", "--id", "0e", "-i", message, "-o", signature],
            environment: store.environment)
        try #require(signed.status == 0, "\(signed.stderr)")
        let publicKey = store.dir.file("ed.pub")
        let read = try OtherProcess.pkcs11Tool(
            login + ["--read-object", "--type", "pubkey", "--id", "0e", "-o", publicKey], environment: store.environment
        )
        try #require(read.status == 0, "\(read.stderr)")
        let text = try run("openssl", ["pkey", "-pubin", "-in", publicKey, "-noout", "-text"])
        #expect(text.stdout.contains("ED25519"), "\(text.stdout) \(text.stderr)")
        func verify(_ file: String) throws -> RunResult {
            try run(
                "openssl",
                ["pkeyutl", "-verify", "-pubin", "-inkey", publicKey, "-rawin", "-in", file, "-sigfile", signature])
        }
        let verified = try verify(message)
        #expect(verified.status == 0 && verified.stdout.contains("Verified Successfully"), "\(verified.stderr)")
        #expect(try verify(other).status != 0, "a signature verifies over another message")
    }

    @Test("NSS certutil -L lists a certificate on the token once modutil has added the module")
    func nssCertutil() throws {
        let (store, label) = try PrivateStore.withToken("nss")
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
        let (test, session) = try SoftTokenRig.freshSession()
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
