import Foundation
import PKCS11
import TestSupport
import Testing

/// A certbridge killed with SIGKILL in the middle of its writes: after the next command on the
/// token, the token holds the whole import or nothing of it, and no journal or temporary file
/// is left behind. The kills land inside the write window through the debug-build hooks
/// CERTBRIDGE_TEST_PAUSE_AFTER_OBJECT=N:MS and CERTBRIDGE_TEST_PAUSE_EXPORT=MS (a pause after
/// the Nth object, then a kill at a random moment in the pause or in the writes after it).
@Suite("interrupted imports and exports")
struct InterruptedImportTests {
    /// A running certbridge whose stderr is read as it comes.
    final class Child {
        let process = Process()
        private let errors = Pipe()

        init(_ arguments: [String], environment: [String: String]) throws {
            process.executableURL = URL(fileURLWithPath: CLI.path)
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            for (key, value) in try SoftHSM.environment().merging(SoftTokenRig.environment(), uniquingKeysWith: { $1 })
            { env[key] = value }
            for (key, value) in environment { env[key] = value }
            process.environment = env
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
        }

        /// Reads stderr until `marker` appears (true) or the process closes it (false).
        func wait(for marker: String) -> Bool {
            var text = ""
            while true {
                let data = errors.fileHandleForReading.availableData
                if data.isEmpty { return false }
                text += String(decoding: data, as: UTF8.self)
                if text.contains(marker) { return true }
            }
        }

        func kill() {
            if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// A fresh token, a PFX for it and a private journal directory.
    struct Rig {
        let dir: TemporaryDirectory
        let state: TemporaryDirectory
        let pfx: PFXFixture
        let test: TestToken

        init(_ fixture: any TokenFixture, chain: Bool) throws {
            dir = try TemporaryDirectory()
            state = try TemporaryDirectory()
            pfx = try PFXFixture.make(chain: chain, name: "alice", in: dir)
            test = try fixture.freshToken()
        }

        var environment: [String: String] { ["PIN": test.userPIN, "XDG_STATE_HOME": state.path] }

        func pausing(_ pause: String) -> [String: String] {
            environment.merging(["CERTBRIDGE_TEST_PAUSE_AFTER_OBJECT": pause]) { $1 }
        }

        func importArguments(_ extra: [String] = []) -> [String] {
            [
                "import", pfx.path, "--token", "pkcs11:token=\(test.label)", "--password-source",
                "file:\(pfx.passwordFile)",
                "--pin-source", "env:PIN", "--module", test.module.path,
            ] + extra
        }

        func objects() throws -> RunResult {
            try CLI.run(
                ["objects", "pkcs11:token=\(test.label)", "--pin-source", "env:PIN", "--module", test.module.path],
                environment: environment)
        }

        var journals: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: state.path + "/certbridge")) ?? []).filter {
                $0.hasSuffix(".journal")
            }
        }
    }

    func emptyToken(_ test: TestToken) throws {
        let session = try test.userSession()
        for object in try session.findObjects([]) { try object.destroy() }
    }

    @Test(
        "30 SIGKILLs during import, each followed by one `certbridge objects`: the whole import or nothing, key shells included",
        arguments: TokenFixtures.all)
    func killedImports(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, chain: true)
        let test = rig.test
        let importArguments = rig.importArguments(["--exportable", "--replace"])

        // What a whole import looks like: key, public key, certificate and two CA certificates.
        let nothing = try test.snapshot()
        let clean = try CLI.run(importArguments, environment: rig.environment)
        try #require(clean.status == 0, "\(clean.stderr)")
        let whole = try test.snapshot()
        try #require(whole.count == nothing.count + 5)
        #expect(rig.journals.isEmpty)

        var rolledBack = 0
        var finished = 0
        var interrupted = 0
        for round in 0..<30 {
            if round % 3 != 2 { try emptyToken(test) }
            let before = try test.snapshot()
            // Pause after object 0 (journal written) to 5 (all written), then kill somewhere in
            // the pause or in the writes that follow it.
            let pauseAfter = Int.random(in: 0...5)
            let child = try Child(importArguments, environment: rig.pausing("\(pauseAfter):15"))
            let paused = child.wait(for: "paused after object \(pauseAfter)")
            usleep(UInt32.random(in: 0...25_000))
            child.kill()
            let left = rig.journals
            if !left.isEmpty { interrupted += 1 }

            let objects = try rig.objects()
            #expect(objects.status == 0, "round \(round): \(objects.stderr)")
            let after = try test.snapshot()
            #expect(
                after == nothing || after == whole,
                "round \(round) (paused: \(paused) after \(pauseAfter)): a partial import is left: \(after.count) objects\n\(after.joined(separator: "\n"))"
            )
            #expect(rig.journals.isEmpty, "round \(round): a journal is left")
            // (A journal left by a kill between its "committed" line and its removal goes quietly.)
            if !left.isEmpty && after != whole {
                #expect(
                    objects.stderr.contains("interrupted import of \"alice\" on token \"\(test.label)\""),
                    "round \(round): \(objects.stderr)")
            }
            if objects.stderr.contains("rolled back an interrupted import") {
                rolledBack += 1
                #expect(after == before, "round \(round): the rollback did not restore what was there")
            }
            if objects.stderr.contains("finished an interrupted import") { finished += 1 }
        }
        // The kills landed in the write window, not only before or after it.
        #expect(interrupted >= 10, "only \(interrupted) of 30 kills interrupted the writes")
        #expect(rolledBack >= 5)
        print(
            "\(fixture): \(interrupted) of 30 kills interrupted the import; \(rolledBack) rolled back, \(finished) finished forward"
        )
    }

    // The software token writes an object whole or not at all (and refuses such a template).
    @Test(
        "a key shell with an empty label that a killed C_CreateObject left is removed with the rollback",
        arguments: [SoftHSMFixture()])
    func shellRemoved(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, chain: false)
        let test = rig.test
        let nothing = try test.snapshot()
        // Killed after its key landed...
        let child = try Child(rig.importArguments(), environment: rig.pausing("1:5000"))
        #expect(child.wait(for: "paused after object 1"))
        child.kill()
        // ...with what a cut-short SoftHSM2 C_CreateObject leaves: a private key object whose
        // label, id and key are still empty.
        let session = try test.userSession()
        _ = try session.createObject(
            [
                Attribute(.privateKey), Attribute(.keyType, ulong: 0), Attribute(.token, true),
                Attribute(.private, true),
                Attribute(.label, bytes: []), Attribute(.id, bytes: []),
            ] + shellKey(fixture))
        #expect(try test.snapshot().count == nothing.count + 2)
        #expect(rig.journals.count == 1)

        let objects = try rig.objects()
        #expect(objects.status == 0, "\(objects.stderr)")
        #expect(
            objects.stderr.contains("rolled back an interrupted import of \"alice\" on token \"\(test.label)\""),
            "\(objects.stderr)")
        #expect(try test.snapshot() == nothing)
        #expect(rig.journals.isEmpty)
    }

    @Test(
        "a journal names its token: another token's commands rename one of an earlier release for it and then skip it; its own token still rolls it back",
        arguments: TokenFixtures.all)
    func journalsKeyedByToken(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, chain: false)
        let nothing = try rig.test.snapshot()
        let child = try Child(rig.importArguments(), environment: rig.pausing("1:5000"))
        #expect(child.wait(for: "paused after object 1"))
        child.kill()
        let written = try #require(rig.journals.first)
        let parts = written.dropFirst("import-".count).dropLast(".journal".count).split(separator: "-")
        try #require(parts.count == 2, "\(written)")
        let marker = String(parts[1])
        // As an earlier release named it: no token in the name.
        let directory = rig.state.path + "/certbridge/"
        try #require(rename(directory + written, directory + "import-\(marker).journal") == 0)

        let other = try fixture.freshToken()
        let elsewhere = try CLI.run(
            ["objects", "pkcs11:token=\(other.label)", "--pin-source", "env:PIN", "--module", other.module.path],
            environment: ["PIN": other.userPIN, "XDG_STATE_HOME": rig.state.path])
        #expect(elsewhere.status == 0, "\(elsewhere.stderr)")
        #expect(!elsewhere.stderr.contains("interrupted"), "\(elsewhere.stderr)")
        #expect(rig.journals == [written], "named for its own token again")
        #expect(try rig.test.snapshot().count == nothing.count + 1)

        let objects = try rig.objects()
        #expect(objects.status == 0, "\(objects.stderr)")
        #expect(objects.stderr.contains("rolled back an interrupted import"), "\(objects.stderr)")
        #expect(try rig.test.snapshot() == nothing)
        #expect(rig.journals.isEmpty)
    }

    /// The least a token takes as an RSA private key: SoftHSM2 insists on the components.
    func shellKey(_ fixture: any TokenFixture) -> [Attribute] {
        [
            Attribute(.modulus, bytes: []), Attribute(.publicExponent, bytes: [1, 0, 1]),
            Attribute(.privateExponent, bytes: [1]),
        ]
    }

    @Test(
        "an import whose writer still runs is not rolled back under it; one that committed is kept",
        arguments: TokenFixtures.all)
    func liveImportLeftAlone(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, chain: false)
        let child = try Child(rig.importArguments(), environment: rig.pausing("1:1500"))
        #expect(child.wait(for: "paused after object 1"))
        #expect(rig.journals.count == 1)
        let objects = try rig.objects()
        #expect(!objects.stderr.contains("interrupted"), "\(objects.stderr)")
        child.process.waitUntilExit()
        #expect(child.process.terminationStatus == 0)
        #expect(rig.journals.isEmpty)
        #expect(try rig.test.snapshot().count == 3)
    }

    @Test(
        "SIGKILL during export leaves a hidden temporary file; the next export into that directory removes it",
        arguments: TokenFixtures.all)
    func killedExports(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, chain: false)
        let (test, pfx) = (rig.test, rig.pfx)
        let out = try TemporaryDirectory()
        let imported = try CLI.run(rig.importArguments(["--exportable"]), environment: rig.environment)
        try #require(imported.status == 0, "\(imported.stderr)")
        func export(_ name: String) -> [String] {
            [
                "export", "pkcs11:token=\(test.label);object=alice", "-o", out.file(name), "--password-source",
                "file:\(pfx.passwordFile)",
                "--pin-source", "env:PIN", "--module", test.module.path,
            ]
        }
        let temporaries = {
            try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.contains(".certbridge-tmp-") }
        }
        for round in 0..<3 {
            let child = try Child(
                export("killed-\(round).pfx"),
                environment: ["PIN": test.userPIN, "CERTBRIDGE_TEST_PAUSE_EXPORT": "2000"])
            #expect(child.wait(for: "paused with the export's temporary file written"))
            usleep(UInt32.random(in: 0...20_000))
            child.kill()
        }
        // Each export swept away the file the one killed before it left: one is left now.
        let stale = try temporaries()
        #expect(stale.count == 1, "\(stale)")
        for name in stale {
            var info = stat()
            #expect(lstat(out.file(name), &info) == 0 && info.st_mode & 0o777 == 0o600)
        }
        // A temporary file of a live export is left alone.
        let live = try Child(
            export("live.pfx"), environment: ["PIN": test.userPIN, "CERTBRIDGE_TEST_PAUSE_EXPORT": "20000"])
        #expect(live.wait(for: "paused with the export's temporary file written"))
        let next = try CLI.run(export("next.pfx"), environment: ["PIN": test.userPIN])
        #expect(next.status == 0, "\(next.stderr)")
        let remaining = try temporaries()
        #expect(live.process.isRunning, "the live export finished before the next one looked")
        live.kill()  // and then its file is stale too
        #expect(try CLI.run(export("last.pfx"), environment: ["PIN": test.userPIN]).status == 0)
        #expect(
            remaining.count == 1 && !remaining.contains(stale.first ?? ""),
            "the live export's file must stay, the stale one go: \(remaining)")
        #expect(try temporaries().isEmpty)
        #expect(FileManager.default.fileExists(atPath: out.file("next.pfx")))
        #expect(FileManager.default.fileExists(atPath: out.file("last.pfx")))
    }
}
