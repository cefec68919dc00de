import Foundation
import TestSupport
import Testing

/// The software token as other PKCS#11 applications see it: OpenSC's pkcs11-tool and GnuTLS's
/// p11tool load `libcertbridge-softtoken.so` themselves, in a store of the test's own, and
/// `openssl` checks every signature they make through it.
@Suite("software token with pkcs11-tool, p11tool and openssl")
struct ToolInteropTests {
    /// DER SubjectPublicKeyInfo headers that turn an uncompressed EC point into a public key file
    /// (pkcs11-tool 0.23 cannot write a P-384 public key itself: "cannot create EVP_PKEY", on
    /// SoftHSM2 too).
    static let spkiPrefix: [String: String] = [
        "prime256v1": "3059301306072a8648ce3d020106082a8648ce3d030107034200",
        "secp384r1": "3076301006072a8648ce3d020106052b81040022036200",
    ]

    /// The public key of the key labelled `label`, as a PEM file `openssl dgst -verify` reads.
    static func publicKeyPEM(label: String, curve: String?, store: PrivateStore, tokenLabel: String) throws -> String {
        let der = store.dir.file("\(label).pub.der")
        let pem = store.dir.file("\(label).pub.pem")
        if let curve {
            // The EC point from the listing, in its DER OCTET STRING: 04 <len> 04 X Y.
            // -O filters by type but not by label: find the object's block.
            let listing = try OtherProcess.pkcs11Tool(
                ["--token-label", tokenLabel, "-O", "--type", "pubkey"], environment: store.environment)
            let block = Self.objectBlocks(listing.stdout).first { $0.contains("  label:      \(label)\n") } ?? ""
            guard let line = block.split(separator: "\n").first(where: { $0.contains("EC_POINT:") }),
                let hex = line.split(separator: " ").last
            else { throw TestSupportError("no EC_POINT for \(label): \(listing.stdout)") }
            let point = hexBytes(hex).dropFirst(2)
            try Data(hexBytes(spkiPrefix[curve]!) + point).write(to: URL(fileURLWithPath: der))
        } else {
            let read = try OtherProcess.pkcs11Tool(
                ["--token-label", tokenLabel, "--read-object", "--type", "pubkey", "--label", label, "-o", der],
                environment: store.environment)
            guard read.status == 0 else { throw TestSupportError("pkcs11-tool --read-object: \(read.stderr)") }
        }
        let converted = try run("openssl", ["pkey", "-pubin", "-inform", "DER", "-in", der, "-out", pem])
        guard converted.status == 0 else { throw TestSupportError("openssl pkey: \(converted.stderr)") }
        return pem
    }

    /// pkcs11-tool's listing cut into one text per object (an object starts at an unindented line).
    static func objectBlocks(_ listing: String) -> [String] {
        var blocks: [String] = []
        for line in listing.split(separator: "\n") {
            if !line.hasPrefix(" ") || blocks.isEmpty { blocks.append("") }
            blocks[blocks.count - 1] += line + "\n"
        }
        return blocks
    }

    @Test(
        "pkcs11-tool inits a token, sets and changes PINs, makes RSA and EC keys whose signatures openssl verifies, lists them, and its --test finds no errors"
    )
    func pkcs11ToolEndToEnd() throws {
        let (store, label) = try PrivateStore.withToken("tool")
        let env = store.environment
        func tool(_ arguments: [String]) throws -> RunResult {
            try OtherProcess.pkcs11Tool(["--token-label", label] + arguments, environment: env)
        }

        let changed = try tool(["--change-pin", "--pin", SoftTokenRig.userPIN, "--new-pin", "5678"])
        #expect(
            changed.status == 0 && changed.stdout.contains("PIN successfully changed"),
            "\(changed.stdout) \(changed.stderr)")
        let old = try tool(["--login", "--pin", SoftTokenRig.userPIN, "-O"])
        #expect(
            old.status != 0 && old.stderr.contains("CKR_PIN_INCORRECT"),
            "the old PIN still works: \(old.stdout) \(old.stderr)")
        let login = ["--login", "--pin", "5678"]

        let keys: [(label: String, type: String, curve: String?)] = [
            ("rsa", "rsa:2048", nil), ("p256", "EC:prime256v1", "prime256v1"), ("p384", "EC:secp384r1", "secp384r1"),
        ]
        for (n, key) in keys.enumerated() {
            let made = try tool(
                login + [
                    "--keypairgen", "--key-type", key.type, "--label", key.label, "--id", String(format: "%02x", n + 1),
                ])
            try #require(made.status == 0, "keypairgen \(key.type): \(made.stderr)")
            #expect(
                made.stdout.contains("Access:     sensitive, always sensitive, never extractable, local"),
                "\(made.stdout)")
        }

        let data = try store.dir.write("data", "CertBridge software token signs this.\n")
        // pkcs11-tool 0.23 picks the signing key by --id only (it ignores --label there).
        let signatures: [(key: String, id: String, curve: String?, mechanism: String, verify: [String])] = [
            ("rsa", "01", nil, "SHA256-RSA-PKCS", ["-sha256"]),
            (
                "rsa", "01", nil, "SHA256-RSA-PKCS-PSS",
                ["-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
            ),
            ("p256", "02", "prime256v1", "ECDSA-SHA256", ["-sha256"]),
            ("p384", "03", "secp384r1", "ECDSA-SHA384", ["-sha384"]),
        ]
        for signature in signatures {
            let sig = store.dir.file("\(signature.key)-\(signature.mechanism).sig")
            let format = signature.curve == nil ? [] : ["--signature-format", "openssl"]
            let signed = try tool(
                login + ["--sign", "--mechanism", signature.mechanism, "--id", signature.id, "-i", data, "-o", sig]
                    + format)
            try #require(signed.status == 0, "\(signature.mechanism): \(signed.stderr)")
            let pem = try Self.publicKeyPEM(
                label: signature.key, curve: signature.curve, store: store, tokenLabel: label)
            let checked = try run("openssl", ["dgst"] + signature.verify + ["-verify", pem, "-signature", sig, data])
            #expect(
                checked.status == 0 && checked.stdout.contains("Verified OK"),
                "openssl rejects \(signature.mechanism) by \(signature.key): \(checked.stdout) \(checked.stderr)")
            // A changed message must not verify: openssl is really checking.
            let other = try store.dir.write("other", "CertBridge software token signs that.\n")
            #expect(
                try run("openssl", ["dgst"] + signature.verify + ["-verify", pem, "-signature", sig, other]).status != 0
            )
        }

        let listed = try tool(login + ["-O"])
        #expect(listed.status == 0)
        for key in keys {
            let blocks = listed.stdout.components(separatedBy: "label:      \(key.label)\n").count - 1
            #expect(blocks == 2, "-O shows \(blocks) objects labelled \(key.label), not a public and a private key")
        }
        #expect(listed.stdout.components(separatedBy: "Private Key Object").count - 1 == 3)

        let selfTest = try tool(login + ["--test"])
        let lastLine = selfTest.stdout.split(separator: "\n").last.map(String.init)
        #expect(
            selfTest.status == 0 && lastLine == "No errors", "pkcs11-tool --test: \(selfTest.stdout) \(selfTest.stderr)"
        )
    }

    @Test("p11tool lists the token, and after logging in (GNUTLS_PIN) its keys")
    func p11toolListsTokenAndKeys() throws {
        let (store, label) = try PrivateStore.withToken("p11")
        let made = try OtherProcess.pkcs11Tool(
            [
                "--token-label", label, "--login", "--pin", SoftTokenRig.userPIN, "--keypairgen",
                "--key-type", "EC:prime256v1", "--label", "gnutls-key", "--id", "07",
            ],
            environment: store.environment)
        try #require(made.status == 0, "\(made.stderr)")

        let tokens = try run(
            "p11tool", ["--provider", SoftTokenRig.modulePath, "--list-tokens"], environment: store.environment)
        #expect(tokens.status == 0)
        #expect(tokens.stdout.contains("Label: \(label)\n"), "\(tokens.stdout)")
        #expect(tokens.stdout.contains("Manufacturer: CertBridge"))

        var env = store.environment
        env["GNUTLS_PIN"] = SoftTokenRig.userPIN
        let all = try run(
            "p11tool", ["--provider", SoftTokenRig.modulePath, "--list-all", "--login", "pkcs11:token=\(label)"],
            environment: env)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.stdout.contains("Type: Public key (EC/ECDSA-SECP256R1)"), "\(all.stdout)")
        // The private key shows only to a logged-in user.
        #expect(all.stdout.contains("Type: Private key (EC/ECDSA-SECP256R1)"), "\(all.stdout)")
        #expect(all.stdout.contains("Label: gnutls-key"))
        #expect(all.stdout.contains("CKA_SENSITIVE"))

        let anonymous = try run(
            "p11tool", ["--provider", SoftTokenRig.modulePath, "--list-all", "pkcs11:token=\(label)"],
            environment: store.environment)
        #expect(
            !anonymous.stdout.contains("Private key"), "a private key is listed without a login: \(anonymous.stdout)")
    }
}
