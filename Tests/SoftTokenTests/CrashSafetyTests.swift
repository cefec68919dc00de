import Foundation
import PKCS11
import TestSupport
import Testing

/// The store under processes that die mid-write or write at once, and PIN tries that a crash
/// cannot undo. The writers are real processes (the C driver) loading the module, killed with
/// SIGKILL, and every check after a kill is made by a fresh process.
@Suite("software token: crashes, concurrent writers, durable PIN tries")
struct CrashSafetyTests {
    @Test(
        "SIGKILL at random points of a writer, 30 times: the token still opens, with every object the writer reported committed, readable, and clears the writer's temporary files"
    )
    func killedWriters() throws {
        let test = try SoftTokenRig.freshToken()
        let env = try SoftTokenRig.environment()
        let directory = try tokenDirectory(of: test)
        // Leftovers like a writer killed between its write and its rename leaves: to be ignored,
        // then cleared.
        let planted = ["/objects/abcdef.tmp-999999", "/token.tmp-999999", "/pins.tmp-999999"].map { directory + $0 }
        for path in planted { try Data("torn".utf8).write(to: URL(fileURLWithPath: path)) }

        func temporaries() throws -> [String] {
            try
                (FileManager.default.contentsOfDirectory(atPath: directory).map { directory + "/" + $0 }
                + FileManager.default.contentsOfDirectory(atPath: directory + "/objects").map {
                    directory + "/objects/" + $0
                })
                .filter { $0.contains(".tmp-") }
        }
        let started = Date()
        var committed: Set<String> = []
        var roundsWithCommits = 0
        var leftoversCleared = 0
        for round in 0..<30 {
            let writer = try Background(
                driver: ["write", "r\(round)-", "1000000", round % 2 == 0 ? "private" : "public"],
                token: test.label, pin: test.userPIN, environment: env)
            if round % 3 == 0 {
                // Anywhere from loading the module through login to the first writes.
                usleep(UInt32.random(in: 0...150_000))
            } else {
                // In the middle of the writes, at a random point of one.
                writer.waitForLines(Int.random(in: 1...12))
                usleep(UInt32.random(in: 0...4_000))
            }
            writer.kill()
            let (lines, killed) = writer.finish()
            let left = try temporaries()
            try #require(
                killed,
                "round \(round): the writer ended before the kill (\(lines.count) lines): status \(writer.process.terminationStatus), \(writer.errorText)"
            )
            committed.formUnion(lines)
            if !lines.isEmpty { roundsWithCommits += 1 }

            let listed = try OtherProcess.listedObjects(token: test.label, pin: test.userPIN, environment: env)
            let lost = committed.filter { listed[$0] != "value of \($0)" }
            try #require(
                lost.isEmpty, "round \(round): committed objects lost or unreadable: \(lost.sorted().prefix(5))")
            // Every object file (temporaries aside) is one the token can read: no torn object.
            let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/objects").filter {
                !$0.contains(".tmp-")
            }
            #expect(
                files.count == listed.count,
                "round \(round): \(files.count) object files, \(listed.count) readable objects")
            // Opening the token (the lister did) cleared what the killed writer left.
            let surviving = try temporaries()
            #expect(surviving.isEmpty, "round \(round): temporary files survive a fresh open: \(surviving)")
            leftoversCleared += left.count
        }
        print(
            "killed a writer 30 times in \(String(format: "%.1f", Date().timeIntervalSince(started))) s; "
                + "\(roundsWithCommits) rounds had committed objects, \(committed.count) in all; \(leftoversCleared) temporary files cleared"
        )
        #expect(roundsWithCommits >= 15, "too few kills landed among the writes to prove anything")
        // Whichever open cleared them (the first writer's own, when it got that far before its
        // kill, or the lister's), the planted leftovers are gone.
        let remaining = planted.filter { FileManager.default.fileExists(atPath: $0) }
        #expect(remaining.isEmpty, "the planted temporaries were not cleared: \(remaining)")
    }

    @Test(
        "two processes writing at once (15 objects each) end with all 30 objects, seen by a third process and by this one"
    )
    func concurrentWriters() throws {
        let test = try SoftTokenRig.freshToken()
        let env = try SoftTokenRig.environment()
        let writers = try [("a-", "private"), ("b-", "public")].map { prefix, privacy in
            try Background(
                driver: ["write", prefix, "15", privacy], token: test.label, pin: test.userPIN, environment: env)
        }
        for (writer, prefix) in zip(writers, ["a-", "b-"]) {
            let (lines, killed) = writer.finish()
            #expect(!killed && writer.process.terminationStatus == 0, "writer \(prefix) failed: \(writer.errorText)")
            #expect(lines == (0..<15).map { "\(prefix)\($0)" })
        }
        let expected = Set((0..<15).flatMap { ["a-\($0)", "b-\($0)"] })

        let listed = try OtherProcess.listedObjects(token: test.label, pin: test.userPIN, environment: env)
        #expect(Set(listed.keys) == expected)
        #expect(listed.allSatisfy { $0.value == "value of \($0.key)" })

        let session = try test.userSession()
        let here = try session.findObjects([Attribute(.data)]).map { try $0.attributes([.label]).label ?? "" }
        #expect(here.count == 30)
        #expect(Set(here) == expected)
    }

    @Test("a process that keeps looking while another writes finds every object once the writer is done")
    func readerDuringWrites() throws {
        let (test, session) = try SoftTokenRig.freshSession()
        let writer = try Background(
            driver: ["write", "w-", "200", "public"], token: test.label, pin: test.userPIN,
            environment: try SoftTokenRig.environment())
        // Each look may cache what it saw; a change it then misses would stay hidden.
        var looks = 0
        while writer.process.isRunning {
            _ = try session.findObjects([Attribute(.data)])
            looks += 1
        }
        let (lines, killed) = writer.finish()
        #expect(!killed && lines.count == 200, "the writer failed after \(lines.count) objects: \(writer.errorText)")
        let found = try session.findObjects([Attribute(.data)]).count
        #expect(found == 200, "after \(looks) looks during the writes, this process sees \(found) of 200 objects")
    }

    @Test(
        "a wrong PIN's try is counted before the check: killed during the KDF, it still shows as CKF_USER_PIN_COUNT_LOW"
    )
    func pinTryOutlivesCrash() throws {
        // A costly KDF (fixed per token at C_InitToken) gives the kill a wide window.
        let (store, label) = try PrivateStore.withToken("pins", iterations: 1_000_000)
        let pins = URL(fileURLWithPath: try store.tokenDirectory() + "/pins")
        let before = (try? Data(contentsOf: pins)) ?? Data()
        func flags() throws -> TokenFlags {
            let shown = try OtherProcess.runDriver(["flags"], token: label, pin: "", environment: store.environment)
            guard shown.status == 0, let hex = shown.stdout.split(separator: "x").last?.dropLast(),
                let raw = UInt(hex, radix: 16)
            else { throw TestSupportError("driver flags: \(shown.stdout) \(shown.stderr)") }
            return TokenFlags(rawValue: raw)
        }
        #expect(try !flags().contains(.userPINCountLow))

        let login = try Background(driver: ["login"], token: label, pin: "0000", environment: store.environment)
        let waiting = Date()
        while ((try? Data(contentsOf: pins)) ?? Data()) == before {
            guard Date().timeIntervalSince(waiting) < 60 else {
                login.kill()
                Issue.record("the pins file never changed")
                return
            }
            usleep(200)
        }
        // The try is on disk. A token that counted it only after the check would be done by
        // now; ours is still deriving the key (a million PBKDF2 rounds) when the kill comes.
        usleep(20_000)
        login.kill()
        let (lines, killed) = login.finish()
        try #require(killed && !lines.contains { $0.hasPrefix("rv=") }, "the login ended before the kill: \(lines)")

        let after = try flags()
        #expect(after.contains(.userPINCountLow), "the killed try was not counted: \(after.names)")
        #expect(!after.contains(.userPINFinalTry) && !after.contains(.userPINLocked), "\(after.names)")

        // The right PIN still opens the token and clears the count.
        let right = try OtherProcess.runDriver(
            ["login"], token: label, pin: SoftTokenRig.userPIN, environment: store.environment)
        #expect(right.stdout.contains("rv=0x0\n"), "\(right.stdout) \(right.stderr)")
        #expect(try !flags().contains(.userPINCountLow))
    }

    @Test(
        "five wrong PINs lock the user PIN (the fifth says CKR_PIN_LOCKED); the right PIN is then refused until the SO's C_InitPIN"
    )
    func lockoutAndUnlock() throws {
        let test = try SoftTokenRig.freshToken()
        let session = try test.token().openSession(readWrite: true)
        for attempt in 1...5 {
            let error = #expect(throws: PKCS11Error.self) {
                try session.login(.user, pin: PIN(bytes: Array("9999".utf8)))
            }
            #expect(error?.returnValue == (attempt < 5 ? .pinIncorrect : .pinLocked), "attempt \(attempt)")
            let flags = try test.token().info.flags
            switch attempt {
            case 1...3:
                #expect(
                    flags.contains(.userPINCountLow) && !flags.contains(.userPINFinalTry), "\(attempt): \(flags.names)")
            case 4: #expect(flags.contains(.userPINFinalTry), "\(flags.names)")
            default: #expect(flags.contains(.userPINLocked), "\(flags.names)")
            }
        }
        let refused = #expect(throws: PKCS11Error.self) { try session.login(.user, pin: test.pin) }
        #expect(refused?.returnValue == .pinLocked)
        let elsewhere = try OtherProcess.runDriver(
            ["login"], token: test.label, pin: test.userPIN, environment: try SoftTokenRig.environment())
        #expect(
            elsewhere.stdout.contains("rv=0xa4\n"), "another process logs in to a locked token: \(elsewhere.stdout)")

        try session.login(.securityOfficer, pin: PIN(bytes: Array(test.soPIN.utf8)))
        try session.initializeUserPIN(test.pin)
        try session.logout()
        let flags = try test.token().info.flags
        #expect(!flags.contains(.userPINLocked) && !flags.contains(.userPINCountLow), "\(flags.names)")
        try session.login(.user, pin: test.pin)
        #expect(try session.state().isUserLoggedIn)
    }
}
