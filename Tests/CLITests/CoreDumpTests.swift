import Foundation
import TestSupport
import Testing

/// A process that holds PINs makes itself non-dumpable before the first one is read: a core the
/// kernel would write at the PIN prompt is not written, and even a root debugger's image
/// (`gcore`, which ptrace lets root take anyway) holds neither the token PIN nor the PFX
/// password, since both were wiped after use.
@Suite("Secrets and core dumps")
struct CoreDumpTests {
    static let pin = "Pin-\(UInt32.random(in: 100_000...999_999))-unique"
    static let pfxPassword = "Pfx-\(UInt32.random(in: 100_000...999_999))-secret"

    /// Starts `command` in `dir` with a core size limit of unlimited and no signal blocked (a
    /// test process's threads block most signals, and children inherit the mask); its stdin is
    /// a pipe that stays open and empty, so a read from fd 0 blocks.
    func start(_ command: [String], in dir: TemporaryDirectory, environment: [String: String]) throws -> (Process, Pipe)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments =
            [
                "-c",
                """
                import os, resource, signal, sys
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                os.chdir(sys.argv[1])
                os.execv(sys.argv[2], sys.argv[2:])
                """, dir.path,
            ] + command
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return (process, input)
    }

    /// Waits until `pid` is blocked in read(0, …) (syscall 0 on x86-64, first argument 0).
    func waitForRead(_ pid: Int32, executable: String) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
            if exe?.hasSuffix(executable) == true,
                let syscall = try? String(contentsOfFile: "/proc/\(pid)/syscall", encoding: .utf8),
                syscall.hasPrefix("0 0x0 ")
            {
                return
            }
            usleep(50_000)
        }
        throw TestSupportError("process \(pid) never blocked reading its standard input")
    }

    func cores(in dir: TemporaryDirectory) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix("core") }
    }

    func count(_ needle: String, in haystack: Data) -> Int {
        var found = 0
        for encoding in [String.Encoding.utf8, .utf16BigEndian, .utf16LittleEndian] {
            guard let bytes = needle.data(using: encoding) else { continue }
            var range = haystack.startIndex..<haystack.endIndex
            while let hit = haystack.range(of: bytes, in: range) {
                found += 1
                range = hit.upperBound..<haystack.endIndex
            }
        }
        return found
    }

    @Test(
        "at the key-password prompt after the PIN login: no kernel core (a dumpable sleep gets one), and gcore's image holds neither PIN nor PFX password"
    )
    func noSecretInCore() throws {
        let corePattern = try String(contentsOfFile: "/proc/sys/kernel/core_pattern", encoding: .utf8)
        try #require(
            !corePattern.hasPrefix("|"),
            "core_pattern pipes cores to \(corePattern); this test needs the kernel to write them")
        let dir = try TemporaryDirectory()
        let store = dir.file("softtoken")
        try FileManager.default.createDirectory(
            atPath: store, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let environment = ["CERTBRIDGE_SOFTTOKEN_DIR": store]
        let pinFile = try dir.write("pin", Self.pin)
        let soFile = try dir.write("so", "12345678")
        let made = try CLI.run(
            [
                "softtoken", "init", "--label", "Core", "--new-pin-source", "file:\(pinFile)", "--so-pin-source",
                "file:\(soFile)",
            ],
            environment: environment)
        try #require(made.status == 0, "\(made.stderr)")
        let pfx = try PFXFixture.make(
            ec: "prime256v1", chain: false, name: "core-test-friendly-name", password: Self.pfxPassword, in: dir)

        // Control: the kernel writes a core for a dumpable process here.
        let (sleeper, _) = try start(["/bin/sleep", "30"], in: dir, environment: [:])
        usleep(300_000)
        kill(sleeper.processIdentifier, SIGABRT)
        sleeper.waitUntilExit()
        try #require(!cores(in: dir).isEmpty, "the kernel wrote no core for a dumpable process; cannot tell a refusal")
        for core in cores(in: dir) { try FileManager.default.removeItem(atPath: dir.file(core)) }

        var env = try SoftHSM.environment().merging(SoftTokenRig.environment()) { $1 }
        env["CERTBRIDGE_SOFTTOKEN_DIR"] = store
        // The import is killed mid-way: its journal goes to this test's directory, not the user's.
        env["XDG_STATE_HOME"] = dir.path
        // The Swift runtime's backtracer would catch SIGABRT itself (and cannot read a
        // non-dumpable process); the kernel's default action is what is tested here.
        env["SWIFT_BACKTRACE"] = "enable=no"
        let (process, input) = try start(
            [
                CLI.path, "import", pfx.path, "--token", "pkcs11:token=Core", "--security-level", "high",
                "--password-source", "file:\(pfx.passwordFile)", "--pin-source", "file:\(pinFile)",
                "--key-password-source", "fd:0",
            ], in: dir, environment: env)
        defer { try? input.fileHandleForWriting.close() }
        let pid = process.processIdentifier
        try waitForRead(pid, executable: "certbridge")

        let image = dir.file("gcore")
        let dumped = try TestSupport.run("gcore", ["-o", image, "\(pid)"])
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(image).\(pid)"))
        #expect(dumped.status == 0, "\(dumped.stderr)")
        #expect(data.count > 1 << 20)
        // The search works: the friendly name, not a secret, is in memory.
        #expect(count("core-test-friendly-name", in: data) > 0)
        #expect(count(Self.pin, in: data) == 0, "the token PIN is in the process image")
        #expect(count(Self.pfxPassword, in: data) == 0, "the PFX password is in the process image")
        try FileManager.default.removeItem(atPath: "\(image).\(pid)")

        kill(pid, SIGABRT)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            Issue.record("SIGABRT did not end certbridge")
        }
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGABRT)
        #expect(cores(in: dir).isEmpty, "the kernel wrote a core of certbridge: \(cores(in: dir))")
    }
}
