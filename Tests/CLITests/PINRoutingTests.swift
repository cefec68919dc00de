import Foundation
import TestSupport
import Testing

/// A PIN goes only to the token it is for: with a SoftHSM2 token and a software token present,
/// a command told about one never tries its PIN on the other (the failed-PIN counters, read
/// from the token flags, prove it), and an import never picks its token silently.
@Suite("PIN routing and the target token, with two tokens present")
struct PINRoutingTests {
    /// A SoftHSM2 token and a software token, each in a directory of its own, so "every
    /// token" is exactly these two; they have different PINs.
    struct TwoTokens {
        let dir: TemporaryDirectory
        let hsm = "route-hsm"
        let soft = "route-soft"
        let hsmPIN: String
        let softPIN: String
        let environment: [String: String]

        init() throws {
            dir = try TemporaryDirectory()
            let softHSM = try PrivateSoftHSM(in: dir)
            environment = softHSM.environment.merging(try PrivateSoftTokenStore(in: dir).environment) { $1 }
                .merging(["CERTBRIDGE_SOFTTOKEN_FSYNC": "0"]) { $1 }
            hsmPIN = try dir.write("hsm-pin", SoftHSM.userPIN + "\n")
            softPIN = try dir.write("soft-pin", "24680\n")
            let so = try dir.write("so-pin", SoftHSM.soPIN + "\n")
            try softHSM.initToken(label: hsm)
            let init2 = try certbridge([
                "softtoken", "init", "--label", soft, "--new-pin-source", "file:\(softPIN)", "--so-pin-source",
                "file:\(so)",
            ])
            try #require(init2.status == 0, "\(init2.stderr)")
        }

        var modules: [String] { ["--module", SoftHSM.modulePath, "--module", SoftTokenRig.modulePath] }

        func certbridge(_ arguments: [String]) throws -> RunResult {
            try run(CLI.path, arguments + modules, environment: environment)
        }

        /// The token's flags as `tokens --json` reports them (the PIN counters among them).
        func flags(_ label: String) throws -> [String] {
            let result = try certbridge(["tokens", "--json"])
            try #require(result.status == 0, "\(result.stderr)")
            let tokens = try result.json([TokenJSON].self)
            return try #require(tokens.first { $0.label == label }).flags.sorted()
        }

        /// The number of objects on a token, read with its own PIN.
        func objectCount(_ label: String, pin: String) throws -> Int {
            let result = try certbridge(["objects", "pkcs11:token=\(label)", "--json", "--pin-source", "file:\(pin)"])
            try #require(result.status == 0, "\(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [Any]).count
        }

        /// An enrollment key pair on a token, so that listing it needs that token's login.
        func enroll(_ label: String, pin: String, cn: String) throws {
            let made = try certbridge([
                "enroll", "new", "--subject", "CN=\(cn)", "--token", "pkcs11:token=\(label)",
                "-o", dir.file("\(cn).csr"), "--pin-source", "file:\(pin)",
            ])
            try #require(made.status == 0, "\(made.stderr)")
        }

        /// Two tokens with a pending enrollment pair on each (named `hsm` and `soft`), so that
        /// listing either needs its login.
        static func pending(hsm: String, soft: String) throws -> TwoTokens {
            let rig = try TwoTokens()
            try rig.enroll(rig.hsm, pin: rig.hsmPIN, cn: hsm)
            try rig.enroll(rig.soft, pin: rig.softPIN, cn: soft)
            return rig
        }
    }

    @Test(
        "enroll list --pin-source for one token leaves the other token's failed-PIN counter unchanged; each is named and skipped unless named"
    )
    func enrollListTriesNoOtherPIN() throws {
        let rig = try TwoTokens.pending(hsm: "on.hsm", soft: "on.soft")
        let softBefore = try rig.flags(rig.soft)
        let hsmBefore = try rig.flags(rig.hsm)

        // Named: only that token is searched, with that PIN.
        let named = try rig.certbridge([
            "enroll", "list", "--json", "--token", "pkcs11:token=\(rig.hsm)", "--pin-source", "file:\(rig.hsmPIN)",
        ])
        #expect(named.status == 0, "\(named.stderr)")
        #expect(try named.json([PendingJSON].self).map(\.token) == [rig.hsm])

        // Not named: with no terminal to ask, both are skipped and named; no PIN is tried.
        let unnamed = try rig.certbridge(["enroll", "list", "--json", "--pin-source", "file:\(rig.hsmPIN)"])
        #expect(unnamed.status == 2, "\(unnamed.stderr)")
        #expect(try unnamed.json([PendingJSON].self).isEmpty)
        for label in [rig.hsm, rig.soft] {
            #expect(unnamed.stderr.contains("\"\(label)\" (no PIN is given for it"), "\(unnamed.stderr)")
            #expect(
                unnamed.stderr.contains("--token 'pkcs11:") && unnamed.stderr.contains("token=\(label)'"),
                "\(unnamed.stderr)")
        }
        #expect(try rig.flags(rig.soft) == softBefore, "the software token's PIN counter is untouched")
        #expect(try rig.flags(rig.hsm) == hsmBefore)
        #expect(!softBefore.contains("user-pin-count-low"))

        // The flags do show a spent try: the hsm's PIN on the software token, named, costs one.
        let wrong = try rig.certbridge([
            "enroll", "list", "--token", "pkcs11:token=\(rig.soft)", "--pin-source", "file:\(rig.hsmPIN)",
        ])
        #expect(wrong.status == 4, "\(wrong.stderr)")
        #expect(try rig.flags(rig.soft).contains("user-pin-count-low"))
    }

    @Test(
        "on a terminal, each token the search was not told about is asked for by name: Enter skips it, its own PIN searches it"
    )
    func terminalAsksByName() throws {
        let rig = try TwoTokens.pending(hsm: "tty.hsm", soft: "tty.soft")
        let softPIN = try String(contentsOfFile: rig.softPIN, encoding: .utf8).trimmingCharacters(in: .newlines)
        let shown = try TerminalPasswordTests.onTerminal(
            ["enroll", "list", "--pin-source", "file:\(rig.hsmPIN)"] + rig.modules,
            answers: [("PIN for token \"\(rig.hsm)\"", ""), ("PIN for token \"\(rig.soft)\"", softPIN)],
            environment: rig.environment)
        #expect(shown.status == 2, "\(shown.stdout)")
        #expect(shown.stdout.contains("not named on the command line; Enter skips it"), "\(shown.stdout)")
        #expect(shown.stdout.contains("tty.soft"), "the token whose PIN was typed is searched: \(shown.stdout)")
        #expect(!shown.stdout.contains("tty.hsm "), "\(shown.stdout)")
        #expect(shown.stdout.contains("\"\(rig.hsm)\" (skipped at the prompt)"), "\(shown.stdout)")
        #expect(!shown.stdout.contains(softPIN), "nothing typed is echoed")
        #expect(
            !(try rig.flags(rig.hsm)).contains("user-pin-count-low"),
            "the file's PIN was not tried on the token it was not named for")
    }

    @Test(
        "a pin-source in the URI (RFC 7512) is that token's own, ahead of --pin-source, in each form: file:PATH, file:///PATH, env:NAME, fd:N"
    )
    func uriPINSource() throws {
        let rig = try TwoTokens()
        try rig.enroll(rig.soft, pin: rig.softPIN, cn: "own.source")
        let softPIN = try String(contentsOfFile: rig.softPIN, encoding: .utf8).trimmingCharacters(in: .newlines)
        for (source, environment) in [
            ("file:\(rig.softPIN)", [:]), ("file://\(rig.softPIN)", [:]), ("file://localhost\(rig.softPIN)", [:]),
            ("env:SOFT_PIN", ["SOFT_PIN": softPIN]),
        ] {
            let listed = try run(
                CLI.path,
                [
                    "enroll", "list", "--json", "--token", "pkcs11:token=\(rig.soft)?pin-source=\(source)",
                    "--pin-source", "file:\(rig.hsmPIN)",
                ] + rig.modules,
                environment: rig.environment.merging(environment) { $1 })
            #expect(listed.status == 0, "\(source): \(listed.stderr)")
            #expect(
                try listed.json([PendingJSON].self).map(\.token) == [rig.soft],
                "\(source)")
        }
        let fd = try run(
            "/bin/sh",
            [
                "-c", "exec 3<\"$1\"; shift; exec \"$@\"", "sh", rig.softPIN, CLI.path, "objects",
                "pkcs11:token=\(rig.soft)?pin-source=fd:3", "--json",
            ] + rig.modules, environment: rig.environment)
        #expect(fd.status == 0, "fd:3: \(fd.stderr)")
        let program = try rig.certbridge(["objects", "pkcs11:token=\(rig.soft)?pin-source=%7C/bin/cat"])
        #expect(program.status == 2 && program.stderr.contains("|PROGRAM is refused"), "\(program.stderr)")
        let value = try rig.certbridge(["objects", "pkcs11:token=\(rig.soft)?pin-value=24680"])
        #expect(value.status == 2 && value.stderr.contains("pin-value is refused"), "\(value.stderr)")
        #expect(!(try rig.flags(rig.soft)).contains("user-pin-count-low"), "no wrong PIN was tried")
    }

    @Test(
        "install-cert searching both tokens logs in to neither unnamed one: a stranger's certificate exits 5 naming both; the pair's own token is named with the --token to add"
    )
    func installCertSearch() throws {
        let rig = try TwoTokens()
        try rig.enroll(rig.soft, pin: rig.softPIN, cn: "issued.soft")
        let ca = try RSAComponents.generate(in: rig.dir)
        let caCert = try makeCertificate(keyPEM: ca.pem, subject: "/CN=Route CA", ca: true, in: rig.dir)
        let caKey = try rig.dir.write("ca-key.pem", ca.pem)
        let issued = rig.dir.file("issued.pem")
        try #require(
            try run(
                "openssl",
                [
                    "x509", "-req", "-in", rig.dir.file("issued.soft.csr"), "-CA", caCert.pemPath, "-CAkey", caKey,
                    "-CAcreateserial", "-days", "30", "-out", issued,
                ]
            ).status == 0)
        let before = try rig.flags(rig.soft)

        let stranger = try makeCertificate(
            keyPEM: try ECComponents.generate(in: rig.dir).pem, subject: "/CN=Nobody Routed", in: rig.dir)
        let missed = try rig.certbridge(["install-cert", stranger.pemPath, "--pin-source", "file:\(rig.hsmPIN)"])
        #expect(missed.status == 5, "\(missed.stderr)")
        #expect(missed.stderr.contains("Nobody Routed"))
        for label in [rig.hsm, rig.soft] { #expect(missed.stderr.contains("\"\(label)\""), "\(missed.stderr)") }

        let unnamed = try rig.certbridge(["install-cert", issued, "--pin-source", "file:\(rig.hsmPIN)"])
        #expect(unnamed.status == 2, "\(unnamed.stderr)")
        #expect(unnamed.stderr.contains("is on \"\(rig.soft)\""), "\(unnamed.stderr)")
        #expect(try rig.flags(rig.soft) == before, "the hsm's PIN was not tried on the software token")

        let named = try rig.certbridge([
            "install-cert", issued, "--token", "pkcs11:token=\(rig.soft)", "--pin-source", "file:\(rig.softPIN)",
        ])
        #expect(named.status == 0, "\(named.stderr)")
        #expect(named.stdout.contains("on \"\(rig.soft)\""))
    }

    @Test("objects without a URI logs in to no token it was not told about: each is named as not searched (exit 2)")
    func objectsSearch() throws {
        let rig = try TwoTokens()
        let listed = try rig.certbridge(["objects", "--pin-source", "file:\(rig.hsmPIN)"])
        #expect(listed.status == 2, "\(listed.stderr)")
        for label in [rig.hsm, rig.soft] {
            #expect(listed.stderr.contains("\"\(label)\" (no PIN is given for it"), "\(listed.stderr)")
        }
        #expect(!(try rig.flags(rig.soft)).contains("user-pin-count-low"))
    }

    @Test(
        "import without --token, two tokens present: exit 2, each candidate's URI listed, nothing written on either; with --token it lands"
    )
    func importRefusesToChoose() throws {
        let rig = try TwoTokens()
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: rig.dir)
        let before = (try rig.objectCount(rig.hsm, pin: rig.hsmPIN), try rig.objectCount(rig.soft, pin: rig.softPIN))
        let refused = try rig.certbridge([
            "import", pfx.path, "--password-source", "file:\(pfx.passwordFile)", "--pin-source", "file:\(rig.hsmPIN)",
        ])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("2 tokens are present"), "\(refused.stderr)")
        for label in [rig.hsm, rig.soft] {
            #expect(refused.stderr.contains("--token 'pkcs11:") && refused.stderr.contains("token=\(label)'"))
        }
        #expect(try rig.objectCount(rig.hsm, pin: rig.hsmPIN) == before.0)
        #expect(try rig.objectCount(rig.soft, pin: rig.softPIN) == before.1)

        let enroll = try rig.certbridge([
            "enroll", "new", "--subject", "CN=nowhere", "-o", rig.dir.file("nowhere.csr"), "--pin-source",
            "file:\(rig.hsmPIN)",
        ])
        #expect(enroll.status == 2, "\(enroll.stderr)")
        #expect(!FileManager.default.fileExists(atPath: rig.dir.file("nowhere.csr")))
        #expect(try rig.objectCount(rig.hsm, pin: rig.hsmPIN) == before.0)

        let named = try rig.certbridge([
            "import", pfx.path, "--token", "pkcs11:token=\(rig.hsm)", "--password-source", "file:\(pfx.passwordFile)",
            "--pin-source", "file:\(rig.hsmPIN)",
        ])
        #expect(named.status == 0, "\(named.stderr)")
        #expect(try rig.objectCount(rig.hsm, pin: rig.hsmPIN) > before.0)
    }

    @Test("import with one token present names it in its output")
    func importNamesTheOnlyToken() throws {
        let dir = try TemporaryDirectory()
        let environment = try PrivateSoftTokenStore(in: dir).environment
        let pin = try dir.write("pin", "1234\n")
        let so = try dir.write("so", "87654321\n")
        let module = ["--module", SoftTokenRig.modulePath]
        try #require(
            try run(
                CLI.path,
                [
                    "softtoken", "init", "--label", "Only", "--new-pin-source", "file:\(pin)", "--so-pin-source",
                    "file:\(so)",
                ] + module,
                environment: environment
            ).status == 0)
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: dir)
        let imported = try run(
            CLI.path,
            ["import", pfx.path, "--password-source", "file:\(pfx.passwordFile)", "--pin-source", "file:\(pin)"]
                + module,
            environment: environment)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stderr.contains("no --token given: using \"Only\" (pkcs11:"), "\(imported.stderr)")
        #expect(imported.stdout.contains("onto \"Only\""))
    }
}
