import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A user's PIN change makes a new master key: every private object and the catalog are sealed
/// again under it in one atomic step, the SO can still reset the PIN, and the old `token` file
/// with the old PIN opens nothing made after the change. Every check is made by fresh processes.
@Suite("software token: a PIN change re-keys the token")
struct PINChangeTests {
    static let newPIN = "2468"

    /// A store of its own with a token holding `count` data objects p0…, half of them private.
    static func populated(_ count: Int) throws -> (PrivateStore, String) {
        let (store, label) = try PrivateStore.withToken("rekey")
        let made = try OtherProcess.runDriver(
            ["populate", "p", String(count)], token: label, pin: SoftTokenRig.userPIN,
            environment: store.environment)
        try #require(made.status == 0, "\(made.stderr)")
        return (store, label)
    }

    static func setPIN(_ label: String, from old: String, to new: String, store: PrivateStore) throws -> RunResult {
        var env = store.environment
        env["CB_DRIVER_NEW_PIN"] = new
        return try OtherProcess.runDriver(["setpin"], token: label, pin: old, environment: env)
    }

    /// The labels of the data objects a fresh process finds with `pin` (nil: the login failed).
    static func labels(_ label: String, pin: String, store: PrivateStore) throws -> Set<String>? {
        let listed = try OtherProcess.runDriver(["list"], token: label, pin: pin, environment: store.environment)
        guard listed.status == 0 else { return nil }
        return Set(listed.stdout.split(separator: "\n").map { String($0.split(separator: "\t").first ?? "") })
    }

    @Test(
        "after C_SetPIN every object reads with the new PIN, the old PIN fails, the private files were sealed again, and the SO's C_InitPIN still opens them all"
    )
    func changeKeepsObjectsAndSO() throws {
        let (store, label) = try Self.populated(20)
        let directory = try store.tokenDirectory()
        let before = try FileManager.default.contentsOfDirectory(atPath: directory + "/objects")
        let oldPrivate = try Data(contentsOf: URL(fileURLWithPath: directory + "/objects/" + before.sorted()[0]))

        let changed = try Self.setPIN(label, from: SoftTokenRig.userPIN, to: Self.newPIN, store: store)
        #expect(changed.stdout.contains("rv=0x0\n"), "\(changed.stdout) \(changed.stderr)")
        let all = Set((0..<20).map { "p\($0)" })
        #expect(try Self.labels(label, pin: Self.newPIN, store: store) == all)
        #expect(try Self.labels(label, pin: SoftTokenRig.userPIN, store: store) == nil, "the old PIN still logs in")
        // A new epoch: the old folder is gone, each private file is sealed anew.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(!names.contains("objects") && names.contains("objects-1") && names.contains("index-1"), "\(names)")
        let after = try Data(contentsOf: URL(fileURLWithPath: directory + "/objects-1/" + before.sorted()[0]))
        #expect(after != oldPrivate || oldPrivate[4] == 0, "a private file was not sealed again")

        // The SO resets the user PIN: the SO's copy of the key followed the change.
        let reset = try OtherProcess.pkcs11Tool(
            [
                "--token-label", label, "--init-pin", "--login", "--login-type", "so",
                "--so-pin", SoftTokenRig.soPIN, "--pin", "9753",
            ], environment: store.environment)
        #expect(reset.status == 0, "\(reset.stdout) \(reset.stderr)")
        #expect(try Self.labels(label, pin: "9753", store: store) == all)
        let again = try OtherProcess.runDriver(
            ["write", "after", "1", "private"], token: label, pin: "9753", environment: store.environment)
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test("the old token file put back with the old PIN does not open a key made after the PIN change")
    func oldTokenFileOpensNothingNew() throws {
        let (store, label) = try Self.populated(4)
        let directory = try store.tokenDirectory()
        let oldRecord = try Data(contentsOf: URL(fileURLWithPath: directory + "/token"))
        let changed = try Self.setPIN(label, from: SoftTokenRig.userPIN, to: Self.newPIN, store: store)
        try #require(changed.status == 0, "\(changed.stdout) \(changed.stderr)")
        let made = try OtherProcess.pkcs11Tool(
            [
                "--token-label", label, "--login", "--pin", Self.newPIN, "--keypairgen",
                "--key-type", "EC:prime256v1", "--label", "after-change", "--id", "a1",
            ],
            environment: store.environment)
        try #require(made.status == 0, "\(made.stdout) \(made.stderr)")
        let shown = try OtherProcess.pkcs11Tool(
            ["--token-label", label, "--login", "--pin", Self.newPIN, "-O", "--type", "privkey"],
            environment: store.environment)
        try #require(shown.stdout.contains("after-change"), "\(shown.stdout)")
        let input = store.dir.file("digest")
        try Data(repeating: 7, count: 32).write(to: URL(fileURLWithPath: input))
        func sign(pin: String) throws -> RunResult {
            try OtherProcess.pkcs11Tool(
                [
                    "--token-label", label, "--login", "--pin", pin, "--sign", "--id", "a1", "-m", "ECDSA",
                    "--input-file", input, "--output-file", store.dir.file("signature"),
                ], environment: store.environment)
        }
        let before = try sign(pin: Self.newPIN)
        try #require(before.status == 0, "the new key does not sign: \(before.stdout) \(before.stderr)")

        // The attacker: the old token file back, and today's files where it looks for them.
        try oldRecord.write(to: URL(fileURLWithPath: directory + "/token"))
        try FileManager.default.moveItem(atPath: directory + "/objects-1", toPath: directory + "/objects")
        try FileManager.default.moveItem(atPath: directory + "/index-1", toPath: directory + "/index")
        let old = try OtherProcess.pkcs11Tool(
            ["--token-label", label, "--login", "--pin", SoftTokenRig.userPIN, "-O", "--type", "privkey"],
            environment: store.environment)
        #expect(old.status == 0, "the old PIN no longer logs in with the old token file: \(old.stderr)")
        #expect(
            !old.stdout.contains("after-change"),
            "the old token file and PIN open a key made after the change: \(old.stdout)")
        let signed = try sign(pin: SoftTokenRig.userPIN)
        #expect(signed.status != 0, "the key made after the change signs with the old PIN: \(signed.stdout)")
    }

    @Test(
        "SIGKILL during C_SetPIN (right before its commit, and at random moments), 12 times: the token opens with the old or the new PIN, with every object, and no other epoch's files stay"
    )
    func killedPINChange() throws {
        let count = 200
        let (store, label) = try Self.populated(count)
        let directory = try store.tokenDirectory()
        let all = Set((0..<count).map { "p\($0)" })
        var pin = SoftTokenRig.userPIN
        var outcomes = (old: 0, new: 0)
        let pause = store.dir.file("pause")
        for round in 0..<12 {
            let next = pin == SoftTokenRig.userPIN ? Self.newPIN : SoftTokenRig.userPIN
            var env = store.environment
            env["CB_DRIVER_NEW_PIN"] = next
            if round < 2 {
                // Stopped with every new file written and flushed, the token file not yet replaced.
                _ = FileManager.default.createFile(atPath: pause, contents: Data())
                env["CERTBRIDGE_SOFTTOKEN_TEST_PAUSE_BEFORE_COMMIT"] = pause
            }
            let changer = try Background(driver: ["setpin"], token: label, pin: pin, environment: env)
            changer.waitForLines(1)
            if round < 2 {
                let started = Date()
                while !(try FileManager.default.contentsOfDirectory(atPath: directory)).contains("index-1") {
                    guard Date().timeIntervalSince(started) < 30 else { break }
                    usleep(1_000)
                }
                usleep(20_000)
                changer.kill()
            } else if round == 2 {
                // One change left to finish.
            } else {
                usleep(UInt32.random(in: 0...40_000))
                changer.kill()
            }
            let (lines, killed) = changer.finish()
            unlink(pause)
            if round == 2 { #expect(!killed && lines.contains("rv=0x0"), "\(lines) \(changer.errorText)") }
            if round < 2 { #expect(killed, "the paused change ended before the kill: \(lines)") }

            if let seen = try Self.labels(label, pin: pin, store: store) {
                #expect(
                    seen == all, "round \(round): with the old PIN \(all.subtracting(seen).count) objects are missing")
                outcomes.old += 1
                if round < 2 { #expect(lines.allSatisfy { !$0.hasPrefix("rv=") }) }
            } else if let seen = try Self.labels(label, pin: next, store: store) {
                #expect(
                    seen == all, "round \(round): with the new PIN \(all.subtracting(seen).count) objects are missing")
                #expect(round >= 2, "round \(round): killed before its commit, yet the new PIN opens the token")
                outcomes.new += 1
                pin = next
            } else {
                Issue.record("round \(round): neither the old nor the new PIN opens the token")
                return
            }
            // The lister's open removed the other epoch's files.
            let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            let epochs = names.filter { ($0.hasPrefix("objects") || $0.hasPrefix("index")) && !$0.contains(".tmp-") }
            #expect(epochs.count == 2, "round \(round): \(names.sorted())")
        }
        print(
            "killed C_SetPIN 11 times on \(count) objects: \(outcomes.old) left the old PIN, \(outcomes.new) the new one"
        )
        #expect(outcomes.old >= 2 && outcomes.new >= 1)
    }
}
