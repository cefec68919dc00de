import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Windows' Medium and High levels kept by the software token itself: foreign programs that do
/// no context login (OpenSSL's libp11 engine, Java's SunPKCS11, a plain C client) get the
/// module's own pinentry prompt, answered by a scripted pinentry that logs every request.
@Suite("approval at every use, asked by the software token", .serialized)
struct ApprovalTests {
    /// A private store with one token "Approvals": "med" (P-256, Medium) and "high" (RSA-2048,
    /// High with its own password), and the environment for programs to run against it.
    final class Rig {
        let dir: TemporaryDirectory
        let store: String
        let medium: PFXFixture
        let high: PFXFixture
        static let pin = "1234"
        static let keyPassword = "only-this-key"

        /// `keyPasswordIterations`: the PBKDF2 cost of the High key's own password (the module's
        /// test floor unless given), so a test can catch the check in the middle.
        init(keyPasswordIterations: String? = nil) throws {
            dir = try TemporaryDirectory("certbridge-approval")
            store = dir.file("softtoken")
            try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
            try dir.write("pin", Self.pin)
            try dir.write("so-pin", "87654321")
            try dir.write("key-password", Self.keyPassword)
            medium = try PFXFixture.make(ec: "prime256v1", chain: false, in: dir)
            high = try PFXFixture.make(rsaBits: 2048, chain: false, in: dir)
            try expectOK(
                certbridge([
                    "softtoken", "init", "--label", "Approvals", "--new-pin-source", "file:\(dir.file("pin"))",
                    "--so-pin-source", "file:\(dir.file("so-pin"))",
                ]))
            try expectOK(
                certbridge(
                    [
                        "import", medium.path, "--security-level", "medium", "--label", "med",
                        "--password-source", "file:\(medium.passwordFile)",
                    ] + pinOption))
            try expectOK(
                certbridge(
                    [
                        "import", high.path, "--security-level", "high", "--label", "high",
                        "--password-source", "file:\(high.passwordFile)",
                        "--key-password-source", "file:\(dir.file("key-password"))",
                    ] + pinOption,
                    environment: [
                        "CERTBRIDGE_SOFTTOKEN_DIR": store,
                        "CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS": keyPasswordIterations ?? SoftTokenRig.iterations,
                    ]))
        }

        var pinOption: [String] { ["--pin-source", "file:\(dir.file("pin"))"] }
        var pinentryLog: String { dir.file("pinentry.log") }

        /// The store, strict PKCS#11 off, the scripted pinentry and a display to show it on.
        func environment(answer: String = "yes", password: String = Rig.keyPassword, extra: [String: String] = [:])
            -> [String: String]
        {
            var env = [
                "CERTBRIDGE_SOFTTOKEN_DIR": store, "CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS": SoftTokenRig.iterations,
                "CERTBRIDGE_SOFTTOKEN_STRICT": "0", "CERTBRIDGE_PINENTRY": ApprovalTests.scriptedPinentry,
                "SCRIPTED_PINENTRY_LOG": pinentryLog, "SCRIPTED_PINENTRY_ANSWER": answer,
                "SCRIPTED_PINENTRY_PASSWORD": password, "SCRIPTED_PINENTRY_PIN": Self.pin,
                "DISPLAY": ":57", "GPG_TTY": "", "PKCS11_MODULE_PATH": SoftTokenRig.modulePath,
            ]
            for (key, value) in extra { env[key] = value }
            return env
        }

        func certbridge(_ arguments: [String], environment: [String: String]? = nil) throws -> RunResult {
            try run(
                CLI.path, arguments + ["--module", SoftTokenRig.modulePath],
                environment: environment ?? [
                    "CERTBRIDGE_SOFTTOKEN_DIR": store, "CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS": SoftTokenRig.iterations,
                ])
        }

        /// The requests the scripted pinentry saw, as logged (approvals only unless `logins`).
        func requests(logins: Bool = false) throws -> [[String: Any]] {
            guard let text = try? String(contentsOfFile: pinentryLog, encoding: .utf8) else { return [] }
            return try text.split(separator: "\n").map { line in
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            }.filter { logins || ($0["kind"] as? String) == "approval" }
        }

        func clearLog() {
            unlink(pinentryLog)
            unlink(pinentryLog + ".count")
        }
    }

    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let scriptedPinentry = here.appendingPathComponent("Approval/scripted-pinentry.py").path

    /// The C client that never does a context login of its own, built once per test process.
    static let client: Result<String, TestSupportError> = {
        let path = NSTemporaryDirectory() + "/approval-client-\(getpid())"
        do {
            let built = try run(
                "cc",
                [
                    "-O1", "-Wall", "-I/usr/include/p11-kit-1", "-o", path,
                    here.appendingPathComponent("Approval/approval-client.c").path, "-ldl",
                ])
            guard built.status == 0 else {
                return .failure(TestSupportError("cannot build the client: \(built.stderr)"))
            }
            atexit { unlink(NSTemporaryDirectory() + "/approval-client-\(getpid())") }
            return .success(path)
        } catch {
            return .failure(TestSupportError("cannot build the client: \(error)"))
        }
    }()

    /// Runs the C client: `count` signatures with `key`, each written to PREFIX.N.
    static func sign(_ rig: Rig, key: String, count: Int, mode: String = "none", environment: [String: String]) throws
        -> (RunResult, prefix: String)
    {
        let prefix = rig.dir.file("sig-\(key)-\(UInt32.random(in: 0...UInt32.max))")
        var env = environment
        env["CB_CLIENT_PIN"] = Rig.pin
        // setsid: no controlling terminal, so only the display (or nothing) is there to ask on.
        let result = try run(
            "/usr/bin/setsid",
            ["-w", try client.get(), SoftTokenRig.modulePath, "Approvals", key, String(count), mode, prefix],
            environment: env)
        return (result, prefix)
    }

    /// The client started (not waited for) on one signature with the "high" key, for a test
    /// that kills it midway; its output goes nowhere.
    static func startSigningOnce(_ rig: Rig, environment: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try client.get())
        process.arguments = [SoftTokenRig.modulePath, "Approvals", "high", "1", "none", rig.dir.file("killed")]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        env["CB_CLIENT_PIN"] = Rig.pin
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// An ECDSA signature as PKCS#11 gives it (r‖s) in the DER form openssl reads.
    static func derECDSA(_ raw: [UInt8]) -> [UInt8] {
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var value = Array(bytes.drop { $0 == 0 })
            if value.isEmpty || value[0] & 0x80 != 0 { value.insert(0, at: 0) }
            return [0x02, UInt8(value.count)] + value
        }
        let body = integer(raw[0..<raw.count / 2]) + integer(raw[(raw.count / 2)...])
        return [0x30, UInt8(body.count)] + body
    }

    /// openssl's verdict on a signature of `message` by the key in `fixture` (a raw r‖s ECDSA
    /// signature, as the C client writes it, when `raw`).
    static func verifies(_ signature: String, message: Data, fixture: PFXFixture, dir: TemporaryDirectory, raw: Bool)
        throws -> Bool
    {
        let der = dir.file("der-\(UInt32.random(in: 0...UInt32.max))")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: signature)))
        try Data(derECDSA(bytes)).write(to: URL(fileURLWithPath: der))
        return try verifies(der, message: message, fixture: fixture, dir: dir)
    }

    /// openssl's verdict on a signature of `message` by the key in `fixture`.
    static func verifies(_ signature: String, message: Data, fixture: PFXFixture, dir: TemporaryDirectory) throws
        -> Bool
    {
        let messageFile = dir.file("message-\(UInt32.random(in: 0...UInt32.max))")
        try message.write(to: URL(fileURLWithPath: messageFile))
        let publicKey = dir.file("pub-\(UInt32.random(in: 0...UInt32.max)).pem")
        _ = try run("openssl", ["x509", "-in", fixture.certificatePEM, "-pubkey", "-noout", "-out", publicKey])
        let result = try run(
            "openssl", ["dgst", "-sha256", "-verify", publicKey, "-signature", signature, messageFile])
        return result.status == 0 && result.stdout.contains("Verified OK")
    }

    @Test(
        "a C client with no context login: N signatures ask N approvals; CONFIRM for Medium, GETPIN for High; each verifies with openssl",
        arguments: [("med", "CONFIRM"), ("high", "GETPIN")])
    func nSignaturesNApprovals(key: String, command: String) throws {
        let rig = try Rig()
        let (result, prefix) = try Self.sign(rig, key: key, count: 3, environment: rig.environment())
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let requests = try rig.requests()
        #expect(requests.count == 3, "one approval per signature")
        #expect(requests.allSatisfy { $0["command"] as? String == command })
        let description = requests.first?["description"] as? String ?? ""
        #expect(
            description.contains("approval-client") && description.contains("pid") && description.contains("\"\(key)\"")
                && description.contains("\"Approvals\"") && description.contains("sign"), "\(description)")
        for n in 0..<3 {
            let message = Data("message \(n)".utf8)
            #expect(
                key == "med"
                    ? try Self.verifies(
                        "\(prefix).\(n)", message: message, fixture: rig.medium, dir: rig.dir, raw: true)
                    : try Self.verifies("\(prefix).\(n)", message: message, fixture: rig.high, dir: rig.dir))
        }
    }

    @Test("C_Login(CKU_CONTEXT_SPECIFIC, NULL) asks the pinentry for the one operation begun")
    func contextLoginWithNullPIN() throws {
        let rig = try Rig()
        let (result, prefix) = try Self.sign(rig, key: "high", count: 2, mode: "null", environment: rig.environment())
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(try rig.requests().count == 2)
        #expect(try Self.verifies("\(prefix).1", message: Data("message 1".utf8), fixture: rig.high, dir: rig.dir))
    }

    @Test(
        "a denial fails the signature with CKR_FUNCTION_CANCELED and nothing is signed; the next use asks again",
        arguments: ["med", "high"])
    func denial(key: String) throws {
        let rig = try Rig()
        let (result, prefix) = try Self.sign(rig, key: key, count: 2, environment: rig.environment(answer: "no,yes"))
        #expect(result.status == 1)
        #expect(result.stdout.contains("sign 0 rv=0x50"))
        #expect(result.stdout.contains("sign 1 rv=0x0"))
        #expect(!FileManager.default.fileExists(atPath: "\(prefix).0"))
        #expect(FileManager.default.fileExists(atPath: "\(prefix).1"))
        #expect(try rig.requests().count == 2)
    }

    @Test("no pinentry, or no terminal and no display: the signature fails closed (CKR_FUNCTION_CANCELED) within 2 s")
    func failClosed() throws {
        let rig = try Rig()
        for extra in [
            ["CERTBRIDGE_PINENTRY": rig.dir.file("no-such-pinentry")], ["DISPLAY": "", "WAYLAND_DISPLAY": ""],
        ] {
            let start = Date()
            let (result, prefix) = try Self.sign(rig, key: "high", count: 1, environment: rig.environment(extra: extra))
            #expect(Date().timeIntervalSince(start) < 2, "\(extra)")
            #expect(result.stdout.contains("sign 0 rv=0x50"), "\(result.stdout)\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(prefix).0"))
        }
        #expect(try rig.requests().isEmpty)
    }

    @Test("a pinentry that never answers fails the signature at the timeout and is killed")
    func timeout() throws {
        let rig = try Rig()
        let start = Date()
        let (result, _) = try Self.sign(
            rig, key: "med", count: 1,
            environment: rig.environment(answer: "hang", extra: ["CERTBRIDGE_PINENTRY_TIMEOUT": "2"]))
        let elapsed = Date().timeIntervalSince(start)
        #expect(result.stdout.contains("sign 0 rv=0x50"), "\(result.stdout)\(result.stderr)")
        #expect(elapsed >= 2 && elapsed < 6, "took \(elapsed) s")
        let trail = try rig.certbridge(["audit", "pkcs11:token=Approvals", "--json"] + rig.pinOption)
        #expect(trail.stdout.contains("timed out"))
    }

    @Test(
        "OpenSSL 3 with libp11's engine and no terminal signs with a Medium and a High key through the module's prompt",
        arguments: ["med", "high"])
    func opensslEngine(key: String) throws {
        let rig = try Rig()
        let digest = rig.dir.file("digest")
        let message = Data("signed by openssl".utf8)
        let messageFile = rig.dir.file("openssl-message")
        try message.write(to: URL(fileURLWithPath: messageFile))
        _ = try run("openssl", ["dgst", "-sha256", "-binary", "-out", digest, messageFile])
        let signature = rig.dir.file("openssl-\(key).sig")
        // The PIN travels in a file the engine reads (pin-source), never on argv.
        let uri = "pkcs11:token=Approvals;object=\(key);type=private?pin-source=file:\(rig.dir.file("pin"))"
        let signed = try run(
            "/usr/bin/setsid",
            [
                "-w", "openssl", "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey", uri,
                "-sign", "-in", digest, "-out", signature, "-pkeyopt", "digest:sha256",
            ],
            environment: rig.environment())
        #expect(signed.status == 0, "\(signed.stderr)")
        let requests = try rig.requests()
        #expect(requests.count == 1)
        #expect(
            requests.first?["command"] as? String == (key == "med" ? "CONFIRM" : "GETPIN"),
            "medium keys are never asked for a password")
        #expect(
            try Self.verifies(signature, message: message, fixture: key == "med" ? rig.medium : rig.high, dir: rig.dir))

        rig.clearLog()
        let denied = rig.dir.file("openssl-denied.sig")
        let refused = try run(
            "/usr/bin/setsid",
            [
                "-w", "openssl", "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey", uri,
                "-sign", "-in", digest, "-out", denied, "-pkeyopt", "digest:sha256",
            ],
            environment: rig.environment(answer: "no"))
        #expect(refused.status != 0)
        #expect(((try? Data(contentsOf: URL(fileURLWithPath: denied)))?.count ?? 0) == 0, "nothing is signed")
    }

    @Test(
        "Java's jarsigner (SunPKCS11, default provider config) signs a JAR with a Medium and a High key; N=2 signings ask 2 approvals",
        arguments: ["med", "high"])
    func jarsigner(key: String) throws {
        let rig = try Rig()
        let config = try rig.dir.write("p11.cfg", "name = CertBridge\nlibrary = \(SoftTokenRig.modulePath)\n")
        try rig.dir.write("a.txt", "hello")
        for n in 0..<2 {
            let jar = rig.dir.file("signed-\(n).jar")
            #expect(try run("jar", ["cf", jar, "-C", rig.dir.path, "a.txt"]).status == 0)
            let signed = try run(
                "/usr/bin/setsid",
                [
                    "-w", "jarsigner", "-keystore", "NONE", "-storetype", "PKCS11",
                    "-providerClass", "sun.security.pkcs11.SunPKCS11", "-providerArg", config,
                    "-storepass:file", rig.dir.file("pin"), jar, key,
                ],
                environment: rig.environment())
            #expect(signed.status == 0, "\(signed.stdout)\(signed.stderr)")
            let verified = try run("jarsigner", ["-verify", jar])
            #expect(verified.stdout.contains("jar verified"), "\(verified.stdout)")
        }
        let requests = try rig.requests()
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0["command"] as? String == (key == "med" ? "CONFIRM" : "GETPIN") })

        let jar = rig.dir.file("denied.jar")
        _ = try run("jar", ["cf", jar, "-C", rig.dir.path, "a.txt"])
        let refused = try run(
            "/usr/bin/setsid",
            [
                "-w", "jarsigner", "-keystore", "NONE", "-storetype", "PKCS11",
                "-providerClass", "sun.security.pkcs11.SunPKCS11", "-providerArg", config,
                "-storepass:file", rig.dir.file("pin"), jar, key,
            ],
            environment: rig.environment(answer: "no"))
        #expect(refused.status != 0)
        #expect(!(try run("jarsigner", ["-verify", jar]).stdout.contains("jar verified")), "nothing is signed")
    }

    /// A private sshd on 127.0.0.1 that accepts exactly one of the token's keys, for `ssh -I`.
    final class SSHServer {
        let port: Int
        private let pidFile: String

        init(acceptingKeyLabeled label: String, rig: Rig) throws {
            let keys = try run("ssh-keygen", ["-D", SoftTokenRig.modulePath], environment: rig.environment())
            let line = try #require(
                keys.stdout.split(separator: "\n").first { $0.hasSuffix(" \(label)") },
                "ssh-keygen -D lists \(label): \(keys.stdout)\(keys.stderr)")
            let authorized = try rig.dir.write("authorized_keys-\(label)", String(line) + "\n")
            let hostKey = rig.dir.file("host-key-\(label)")
            #expect(try run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]).status == 0)
            // As root sshd wants its privilege-separation directory, which a container may lack.
            if getuid() == 0 {
                try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
            }
            pidFile = rig.dir.file("sshd-\(label).pid")
            port = Int.random(in: 20_000..<60_000)
            let config = try rig.dir.write(
                "sshd_config-\(label)",
                """
                ListenAddress 127.0.0.1:\(port)
                HostKey \(hostKey)
                AuthorizedKeysFile \(authorized)
                PidFile \(pidFile)
                StrictModes no
                UsePAM no
                PermitRootLogin prohibit-password
                PasswordAuthentication no
                KbdInteractiveAuthentication no

                """)
            let started = try run("/usr/sbin/sshd", ["-f", config, "-E", rig.dir.file("sshd-\(label).log")])
            try #require(started.status == 0, "sshd: \(started.stderr)")
        }

        /// `ssh -I MODULE` (the provider loaded in ssh itself, not behind ssh-agent) runs `echo`.
        func login(_ rig: Rig, answer: String) throws -> RunResult {
            try run(
                "/usr/bin/setsid",
                [
                    "-w", "ssh", "-F", "/dev/null", "-I", SoftTokenRig.modulePath, "-p", String(port),
                    "-o", "IdentityAgent=none", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
                    "\(NSUserName())@127.0.0.1", "echo", "signed-in-by-token",
                ],
                environment: rig.environment(answer: answer), input: Data())
        }

        deinit {
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
                let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                kill(pid, SIGTERM)
            }
        }
    }

    @Test(
        "OpenSSH's ssh -I signs in with a Medium and a High key through the module's prompt (the server checks each signature); a denial fails the login",
        arguments: ["med", "high"])
    func openSSH(key: String) throws {
        let rig = try Rig()
        let server = try SSHServer(acceptingKeyLabeled: key, rig: rig)
        for _ in 0..<2 {
            let session = try server.login(rig, answer: "yes")
            #expect(session.status == 0 && session.stdout.contains("signed-in-by-token"), "\(session.stderr)")
        }
        let requests = try rig.requests()
        #expect(requests.count == 2, "one approval per signature")
        #expect(
            requests.allSatisfy { $0["command"] as? String == (key == "med" ? "CONFIRM" : "GETPIN") },
            "medium keys are never asked for a password")
        #expect(
            requests.allSatisfy { ($0["description"] as? String)?.contains("ssh") == true },
            "the prompt names the program")

        rig.clearLog()
        let refused = try server.login(rig, answer: "no")
        #expect(refused.status != 0)
        #expect(!refused.stdout.contains("signed-in-by-token"), "nothing is signed")
    }

    @Test("pkcs11-tool does the context login itself: it signs as before and the module asks nothing")
    func pkcs11Tool() throws {
        let rig = try Rig()
        let message = rig.dir.file("tool-message")
        try Data("signed by pkcs11-tool".utf8).write(to: URL(fileURLWithPath: message))
        let signature = rig.dir.file("tool.sig")
        // The key by its id: pkcs11-tool's label lookup is not limited to the class asked for.
        let listed = try rig.certbridge(
            ["objects", "pkcs11:token=Approvals;object=med;type=private", "--json"] + rig.pinOption)
        let objects = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        let id = try #require(objects.first?["id"] as? String)
        // pkcs11-tool takes the PIN only on argv; it is a throwaway test PIN in a private store.
        let signed = try run(
            "pkcs11-tool",
            [
                "--module", SoftTokenRig.modulePath, "--token-label", "Approvals", "--login", "--pin", Rig.pin,
                "--sign", "--mechanism", "ECDSA-SHA256", "--signature-format", "openssl", "--id", id, "--type",
                "privkey",
                "--input-file", message, "--output-file", signature,
            ], environment: rig.environment())
        #expect(signed.status == 0, "\(signed.stderr)")
        #expect(try rig.requests().isEmpty)
        #expect(
            try Self.verifies(signature, message: Data("signed by pkcs11-tool".utf8), fixture: rig.medium, dir: rig.dir)
        )
    }

    @Test(
        "five wrong key passwords lock the key, the count survives SIGKILL, objects shows the tries left, the SO unlocks it"
    )
    func wrongPasswordsLock() throws {
        let rig = try Rig()
        let wrong = rig.environment(password: "not-the-password")
        let first = try Self.sign(rig, key: "high", count: 2, environment: wrong).0
        #expect(first.stdout.contains("sign 1 rv=0xa0"), "\(first.stdout)")
        // A process killed while it waits for the third answer: the two counted tries stay.
        let process = try Self.startSigningOnce(rig, environment: rig.environment(answer: "hang"))
        usleep(700_000)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let listed = try rig.certbridge(["objects", "pkcs11:token=Approvals;object=high;type=private"] + rig.pinOption)
        #expect(listed.stdout.contains("3 wrong passwords before the key locks"), "\(listed.stdout)")

        let rest = try Self.sign(rig, key: "high", count: 3, environment: wrong).0
        #expect(rest.stdout.contains("sign 2 rv=0xa4"), "the fifth wrong password locks: \(rest.stdout)")
        let locked = try Self.sign(rig, key: "high", count: 1, environment: rig.environment()).0
        #expect(locked.stdout.contains("sign 0 rv=0xa4"), "the right password no longer helps")
        let shown = try rig.certbridge(
            ["objects", "pkcs11:token=Approvals;object=high;type=private", "--json"] + rig.pinOption)
        #expect(shown.stdout.contains("\"triesLeft\" : 0"), "\(shown.stdout)")

        let unlocked = try rig.certbridge(
            [
                "pin", "unlock-key", "pkcs11:token=Approvals;object=high", "--so-pin-source",
                "file:\(rig.dir.file("so-pin"))",
            ] + rig.pinOption)
        #expect(unlocked.status == 0, "\(unlocked.stderr)")
        let again = try Self.sign(rig, key: "high", count: 1, environment: rig.environment()).0
        #expect(again.status == 0, "\(again.stdout)")
    }

    @Test(
        "a wrong key password is counted on disk before it is checked: a process killed during the check (the key's KDF) has used up the try"
    )
    func keyTryOutlivesKillDuringCheck() throws {
        // A costly KDF for the key's own password gives the kill a wide window inside the check.
        let rig = try Rig(keyPasswordIterations: "1000000")
        let token = try #require(
            try FileManager.default.contentsOfDirectory(atPath: rig.store).first { !$0.hasPrefix(".") })
        let tries = rig.store + "/" + token + "/keytries"
        let before = FileManager.default.contents(atPath: tries) ?? Data()

        let process = try Self.startSigningOnce(rig, environment: rig.environment(password: "not-the-password"))
        let started = Date()
        while (FileManager.default.contents(atPath: tries) ?? Data()) == before {
            guard process.isRunning, Date().timeIntervalSince(started) < 60 else {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                Issue.record("the try was never written to \(tries) before the process ended")
                return
            }
            usleep(200)
        }
        // The count is on disk; the check (a million PBKDF2 rounds) is still running.
        usleep(20_000)
        let killedInCheck = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try #require(killedInCheck && process.terminationReason == .uncaughtSignal, "the check ended before the kill")
        let signed = try FileManager.default.contentsOfDirectory(atPath: rig.dir.path).filter {
            $0.hasPrefix("killed.")
        }
        #expect(signed.isEmpty, "the killed process signed: \(signed)")

        let listed = try rig.certbridge(["objects", "pkcs11:token=Approvals;object=high;type=private"] + rig.pinOption)
        #expect(
            listed.stdout.contains("4 wrong passwords before the key locks"),
            "the killed try was not counted: \(listed.stdout)")
        // The right password still works, and clears the count.
        let right = try Self.sign(rig, key: "high", count: 1, environment: rig.environment()).0
        #expect(right.status == 0, "\(right.stdout) \(right.stderr)")
        let cleared = try rig.certbridge(
            ["objects", "pkcs11:token=Approvals;object=high;type=private"] + rig.pinOption)
        #expect(cleared.stdout.contains("5 wrong passwords before the key locks"), "\(cleared.stdout)")
    }

    @Test(
        "the audit trail records approvals, denials, imports and exports; --verify names the first bad entry of an edited or truncated trail"
    )
    func auditTrail() throws {
        let rig = try Rig()
        _ = try Self.sign(rig, key: "med", count: 1, environment: rig.environment())
        _ = try Self.sign(rig, key: "med", count: 1, environment: rig.environment(answer: "no"))
        let trail = try rig.certbridge(["audit", "pkcs11:token=Approvals", "--verify"] + rig.pinOption)
        #expect(trail.status == 0, "\(trail.stderr)")
        for words in [
            "import (C_CreateObject): done", "sign: approval asked", "sign: approved", "sign: refused",
            "approval-client",
        ] {
            #expect(trail.stdout.contains(words), "\(words)")
        }
        #expect(!trail.stdout.contains(Rig.pin) && !trail.stdout.contains(Rig.keyPassword))

        let serial = try FileManager.default.contentsOfDirectory(atPath: rig.store).first { !$0.hasPrefix(".") } ?? ""
        let log = rig.store + "/" + serial + "/audit"
        let original = try String(contentsOfFile: log, encoding: .utf8)
        var lines = original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[2] = lines[2].replacingOccurrences(of: "\"pid\":", with: "\"pid\":1")
        try lines.joined(separator: "\n").write(toFile: log, atomically: false, encoding: .utf8)
        let edited = try rig.certbridge(["audit", "pkcs11:token=Approvals", "--verify"] + rig.pinOption)
        #expect(edited.status == 1)
        #expect(edited.stderr.contains("entry 3"), "\(edited.stderr)")

        var swapped = original.split(separator: "\n").map(String.init)
        swapped.swapAt(3, 4)
        try (swapped.joined(separator: "\n") + "\n").write(toFile: log, atomically: false, encoding: .utf8)
        let reordered = try rig.certbridge(["audit", "pkcs11:token=Approvals", "--verify"] + rig.pinOption)
        #expect(reordered.status == 1)
        #expect(reordered.stderr.contains("entry 4"), "\(reordered.stderr)")

        let kept = original.split(separator: "\n").dropLast(2).joined(separator: "\n") + "\n"
        try kept.write(toFile: log, atomically: false, encoding: .utf8)
        let truncated = try rig.certbridge(["audit", "pkcs11:token=Approvals", "--verify", "--json"] + rig.pinOption)
        #expect(truncated.status == 1)
        #expect(truncated.stdout.contains("truncated"), "\(truncated.stdout)")
    }

    @Test(
        "Debian's pinentry-tty on the caller's terminal (a pseudo-terminal): the High key's password, the Medium key's Allow and Deny"
    )
    func pinentryTTY() throws {
        let rig = try Rig()
        let answerer = Self.here.appendingPathComponent("Terminal/answer-prompts.py").path
        let client = try Self.client.get()
        var env = rig.environment(extra: [
            "CERTBRIDGE_PINENTRY": "/usr/bin/pinentry-tty", "DISPLAY": "", "CB_CLIENT_PIN": Rig.pin,
        ])
        func signOnTerminal(_ key: String, _ prompts: [[String]]) throws -> (RunResult, String) {
            let prefix = rig.dir.file("tty-\(key)-\(UInt32.random(in: 0...UInt32.max))")
            env["CB_PROMPTS"] = String(decoding: try JSONSerialization.data(withJSONObject: prompts), as: UTF8.self)
            return (
                try run(
                    "/usr/bin/python3",
                    [answerer, client, SoftTokenRig.modulePath, "Approvals", key, "1", "none", prefix], environment: env
                ), prefix
            )
        }
        let (high, highPrefix) = try signOnTerminal("high", [["Password:", Rig.keyPassword]])
        #expect(high.stdout.contains("wants to sign with the key \"high\""), "\(high.stdout)")
        #expect(high.stdout.contains("sign 0 rv=0x0"), "\(high.stdout)")
        #expect(!high.stdout.contains(Rig.keyPassword), "pinentry-tty does not echo the password")
        #expect(try Self.verifies("\(highPrefix).0", message: Data("message 0".utf8), fixture: rig.high, dir: rig.dir))

        let (allowed, allowedPrefix) = try signOnTerminal("med", [["Allow this one use?", "a"]])
        #expect(allowed.stdout.contains("sign 0 rv=0x0"), "\(allowed.stdout)")
        #expect(!allowed.stdout.contains("Password"), "a Medium key is never asked for a password")
        #expect(
            try Self.verifies(
                "\(allowedPrefix).0", message: Data("message 0".utf8), fixture: rig.medium, dir: rig.dir, raw: true))

        let (denied, deniedPrefix) = try signOnTerminal("med", [["Allow this one use?", "d"]])
        #expect(denied.stdout.contains("sign 0 rv=0x50"), "\(denied.stdout)")
        #expect(!FileManager.default.fileExists(atPath: "\(deniedPrefix).0"))
    }

    @Test(
        "Medium on SoftHSM2: import records it, objects shows it, and certbridge sign asks yes/no on the terminal, no password"
    )
    func mediumOnSoftHSM() throws {
        let dir = try TemporaryDirectory("certbridge-approval-softhsm")
        let test = try SoftHSM.freshToken()
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: dir)
        let env = ["PIN": test.userPIN]
        let options = ["--pin-source", "env:PIN", "--module", SoftHSM.modulePath]
        let imported = try CLI.run(
            [
                "import", pfx.path, "--token", "pkcs11:token=\(test.label)", "--security-level", "medium", "--label",
                "m",
                "--password-source", "file:\(pfx.passwordFile)",
            ] + options, environment: env)
        try #require(imported.status == 0, "\(imported.stderr)")
        let listed = try CLI.run(["objects", "pkcs11:token=\(test.label)", "--json"] + options, environment: env)
        let objects = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        let key = try #require(objects.first { $0["class"] as? String == "private-key" })
        #expect(key["securityLevel"] as? String == "medium")
        #expect(
            (key["flags"] as? [String: Any])?["alwaysAuthenticate"] as? Bool == true,
            "the token enforces an approval per use")
        #expect(!objects.contains { $0["class"] as? String == "data" }, "the level's record is not listed")

        let message = try dir.write("message", "approve me")
        let answerer = Self.here.appendingPathComponent("Terminal/answer-prompts.py").path
        /// `certbridge sign` on a pseudo-terminal that answers the approval prompt with `answer`.
        func signAnswering(_ answer: String, out: String) throws -> RunResult {
            var promptEnv = env
            promptEnv["CB_PROMPTS"] = #"[["Allow this use of key", "\#(answer)"]]"#
            return try run(
                "/usr/bin/python3",
                [answerer, CLI.path, "sign", "pkcs11:token=\(test.label);object=m", "--in", message, "--out", out]
                    + options, environment: promptEnv)
        }
        let signature = dir.file("m.sig")
        let signed = try signAnswering("y", out: signature)
        #expect(signed.status == 0, "\(signed.stdout)")
        #expect(
            !signed.stdout.contains("Key password") && !signed.stdout.contains("Token PIN to use the key"),
            "no password is asked")
        let verified = try CLI.run(
            ["verify", "pkcs11:token=\(test.label);object=m", "--in", message, "--sig", signature] + options,
            environment: env)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")

        let denied = dir.file("denied.sig")
        let refused = try signAnswering("n", out: denied)
        #expect(refused.status != 0)
        #expect(!FileManager.default.fileExists(atPath: denied))
    }
}

private func expectOK(_ result: RunResult) throws {
    guard result.status == 0 else { throw TestSupportError("certbridge failed (\(result.status)): \(result.stderr)") }
}
