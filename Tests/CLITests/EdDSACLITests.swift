import Foundation
import PKCS11
import TestSupport
import Testing

/// Ed25519 and Ed448 keys from PFX files made by openssl: placed on SoftHSM2 and on the software
/// token (both offer CKM_EDDSA) as CKK_EC_EDWARDS, signing what openssl verifies.
@Suite("EdDSA keys through the CLI")
struct EdDSACLITests {
    /// An openssl-made PFX for a new key of `algorithm` (ed25519, ed448), with its public key PEM.
    func pfx(_ algorithm: String, in dir: TemporaryDirectory) throws -> (
        path: String, password: String, publicKey: String
    ) {
        let key = dir.file("\(algorithm).pem")
        let cert = dir.file("\(algorithm)-cert.pem")
        let out = dir.file("\(algorithm).pfx")
        let publicKey = dir.file("\(algorithm)-pub.pem")
        let password = try dir.write("\(algorithm)-pass", "ed-pass")
        for arguments in [
            ["genpkey", "-algorithm", algorithm, "-out", key],
            ["req", "-x509", "-key", key, "-subj", "/CN=\(algorithm) user", "-days", "30", "-out", cert],
            ["pkcs12", "-export", "-inkey", key, "-in", cert, "-passout", "file:\(password)", "-out", out],
            ["pkey", "-in", key, "-pubout", "-out", publicKey],
        ] {
            let made = try run("openssl", arguments)
            try #require(made.status == 0, "openssl \(arguments[0]): \(made.stderr)")
        }
        return (out, password, publicKey)
    }

    /// Signs a message with the key at `uri` through the CLI; the signature must pass
    /// `openssl pkeyutl -verify` with the PFX's public key and, unless `verify` is false,
    /// `certbridge verify`. Returns the message and signature paths, and what `certbridge verify` said.
    @discardableResult
    func signAndCheck(
        _ uri: String, publicKey: String, _ cli: TokenCLI, message text: String? = nil, verify: Bool = true
    )
        throws -> (message: String, signature: String, verified: RunResult?)
    {
        let message = try cli.dir.write("message", text ?? "signed on a token with EdDSA\n")
        let signature = cli.dir.file("message.sig")
        let signed = try cli.run(["sign", uri, "--in", message, "--out", signature])
        try #require(signed.status == 0, "\(signed.stderr)")
        let checked = try opensslVerify("eddsa", publicKey: publicKey, data: message, signature: signature)
        #expect(
            checked.status == 0 && checked.stdout.contains("Signature Verified Successfully"),
            "\(checked.stdout) \(checked.stderr)")
        guard verify else { return (message, signature, nil) }
        let verified = try cli.run(["verify", uri, "--in", message, "--sig", signature])
        #expect(verified.status == 0, "\(verified.stderr)")
        return (message, signature, verified)
    }

    /// `certbridge import` of an openssl-made PFX (or a file with its password) onto the token as `label`.
    func importPFX(_ path: String, password: String, on cli: TokenCLI, label: String, exportable: Bool = false)
        throws -> RunResult
    {
        try cli.run(
            ["import", path, "--token", cli.tokenURI, "--label", label]
                + (exportable ? ["--exportable"] : []) + ["--password-source", "file:\(password)"])
    }

    @Test(
        "Ed25519: PFX → SoftHSM2 → sign → openssl pkeyutl -verify; verify and test-sign pass; export says SoftHSM2 cannot wrap it and writes nothing; the PFX re-imports on another token"
    )
    func ed25519RoundTrip() throws {
        let cli = try TokenCLI.softHSM()
        let made = try pfx("ed25519", in: cli.dir)
        let imported = try importPFX(made.path, password: made.password, on: cli, label: "ed", exportable: true)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("EdDSA (Ed25519"), "\(imported.stdout)")

        let uri = cli.uri("ed")
        try signAndCheck(uri, publicKey: made.publicKey, cli)
        let selfTest = try cli.run(["test-sign", uri])
        #expect(selfTest.status == 0, "\(selfTest.stderr)")

        let output = cli.dir.file("back.pfx")
        let exported = try cli.run(["export", uri, "-o", output, "--password-source", "file:\(made.password)"])
        #expect(exported.status == 1, "\(exported.stderr)")
        #expect(
            exported.stderr.contains("cannot wrap a EdDSA key") && exported.stderr.contains("CKR_KEY_NOT_WRAPPABLE"),
            "\(exported.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))

        let again = try importPFX(made.path, password: made.password, on: try TokenCLI.softHSM(), label: "ed")
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test(
        "Ed448: PFX → SoftHSM2 → sign → openssl pkeyutl -verify; verify (certificate, then public key object) and test-sign pass, a forged signature fails"
    )
    func ed448Signs() throws {
        let cli = try TokenCLI.softHSM()
        let dir = cli.dir
        let made = try pfx("ed448", in: dir)
        let imported = try importPFX(made.path, password: made.password, on: cli, label: "ed448")
        #expect(imported.status == 0, "\(imported.stderr)")
        let uri = cli.uri("ed448")
        let (message, signature, shown) = try signAndCheck(uri, publicKey: made.publicKey, cli)
        let verified = try #require(shown)
        #expect(
            verified.status == 0 && verified.stdout.contains("valid eddsa signature")
                && verified.stdout.contains("certificate"),
            "\(verified.stdout) \(verified.stderr)")
        let selfTest = try cli.run(["test-sign", uri])
        #expect(selfTest.status == 0, "\(selfTest.stdout) \(selfTest.stderr)")

        // A signature by another Ed448 key (made by openssl) over the same message fails.
        let otherKey = dir.file("other448.pem")
        let forged = dir.file("forged.sig")
        #expect(try run("openssl", ["genpkey", "-algorithm", "ed448", "-out", otherKey]).status == 0)
        #expect(
            try run("openssl", ["pkeyutl", "-sign", "-inkey", otherKey, "-rawin", "-in", message, "-out", forged])
                .status == 0)
        let refused = try cli.run(["verify", uri, "--in", message, "--sig", forged])
        #expect(refused.status == 1 && refused.stderr.contains("NOT valid"), "\(refused.stdout) \(refused.stderr)")

        // Without its certificate, the public key object (CKK_EC_EDWARDS, CKA_EC_POINT) is used.
        let session = try cli.test.userSession()
        for certificate in try session.findObjects([Attribute(.certificate)]) { try certificate.destroy() }
        let byObject = try cli.run(["verify", uri, "--in", message, "--sig", signature])
        #expect(
            byObject.status == 0 && byObject.stdout.contains("public key object"),
            "\(byObject.stdout) \(byObject.stderr)")
        let forgedByObject = try cli.run(["verify", uri, "--in", message, "--sig", forged])
        #expect(forgedByObject.status == 1, "\(forgedByObject.stdout) \(forgedByObject.stderr)")
    }

    /// Whether the software token offers CKM_EDDSA (the module issue adds it).
    static var softTokenOffersEdDSA: Bool {
        (try? SoftTokenRig.freshToken().token().slot.mechanisms().contains(.eddsa)) == true
    }

    @Test(
        "Ed25519 on the software token: PFX → token → sign → openssl pkeyutl -verify → export → the exported PFX re-imports and signs",
        .enabled(if: softTokenOffersEdDSA, "the software token does not offer CKM_EDDSA yet"))
    func ed25519RoundTripOnSoftToken() throws {
        let cli = try TokenCLI(SoftTokenFixture())
        let dir = cli.dir
        let made = try pfx("ed25519", in: dir)
        let imported = try importPFX(made.path, password: made.password, on: cli, label: "ed", exportable: true)
        try #require(imported.status == 0, "\(imported.stderr)")
        let uri = cli.uri("ed")
        let (message, _, _) = try signAndCheck(uri, publicKey: made.publicKey, cli)

        let exported = dir.file("back.pfx")
        let export = try cli.run(["export", uri, "-o", exported, "--password-source", "file:\(made.password)"])
        try #require(export.status == 0, "\(export.stderr)")
        // openssl opens the exported file, and its key is the one that went in.
        let exportedKey = dir.file("back-key.pem")
        let exportedPublic = dir.file("back-pub.pem")
        #expect(
            try run(
                "openssl",
                [
                    "pkcs12", "-in", exported, "-nocerts", "-nodes", "-passin", "file:\(made.password)", "-out",
                    exportedKey,
                ]
            ).status == 0)
        #expect(try run("openssl", ["pkey", "-in", exportedKey, "-pubout", "-out", exportedPublic]).status == 0)
        #expect(
            try String(contentsOfFile: exportedPublic, encoding: .utf8)
                == String(contentsOfFile: made.publicKey, encoding: .utf8))

        let other = try TokenCLI(SoftTokenFixture())
        let again = try importPFX(exported, password: made.password, on: other, label: "ed")
        try #require(again.status == 0, "\(again.stderr)")
        let resigned = dir.file("again.sig")
        let signedAgain = try other.run(["sign", other.uri("ed"), "--in", message, "--out", resigned])
        #expect(signedAgain.status == 0, "\(signedAgain.stderr)")
        let checkedAgain = try opensslVerify("eddsa", publicKey: made.publicKey, data: message, signature: resigned)
        #expect(checkedAgain.status == 0, "\(checkedAgain.stdout) \(checkedAgain.stderr)")
    }

    @Test(
        "Ed25519 and Ed448: PFX → software token (CKK_EC_EDWARDS by C_CreateObject) → sign → openssl pkeyutl -verify",
        arguments: ["ed25519", "ed448"])
    func softTokenSigns(algorithm: String) throws {
        let cli = try TokenCLI(SoftTokenFixture())
        let offered = try cli.test.token().slot.mechanisms()
        #expect(offered.contains(.eddsa) && offered.contains(.ecEdwardsKeyPairGen))
        let made = try pfx(algorithm, in: cli.dir)
        let imported = try importPFX(made.path, password: made.password, on: cli, label: algorithm)
        try #require(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("EdDSA (Ed"), "\(imported.stdout)")

        let uri = cli.uri(algorithm)
        // Certificate checks of Ed448 keys wait for swift-certificates; Ed25519 goes all the way.
        try signAndCheck(
            uri, publicKey: made.publicKey, cli, message: "signed by the software token with \(algorithm)\n",
            verify: algorithm == "ed25519")
        guard algorithm == "ed25519" else { return }
        let selfTest = try cli.run(["test-sign", uri])
        #expect(selfTest.status == 0, "\(selfTest.stdout) \(selfTest.stderr)")
    }
}
