import Foundation
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Other processes that use the software token while a test watches: the test driver (a small
/// C PKCS#11 client built from Tests/SoftTokenDriver), pkcs11-tool and p11tool. Each is pointed
/// at a store by environment, so a test can give it the rig's store or one of its own.
enum OtherProcess {
    /// The driver, compiled once per test process with the system C compiler (never shipped).
    static func driver() throws -> String { try builtDriver.get() }

    private static let builtDriver: Result<String, TestSupportError> = {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SoftTokenDriver/softtoken-driver.c").path
        let path = NSTemporaryDirectory() + "/softtoken-driver-\(getpid())"
        do {
            let built = try run("cc", ["-O1", "-Wall", "-I/usr/include/p11-kit-1", "-o", path, source, "-ldl"])
            guard built.status == 0 else {
                return .failure(TestSupportError("cannot build the driver: \(built.stderr)"))
            }
            atexit { unlink(NSTemporaryDirectory() + "/softtoken-driver-\(getpid())") }
            return .success(path)
        } catch let error as TestSupportError {
            return .failure(error)
        } catch {
            return .failure(TestSupportError("cannot build the driver: \(error)"))
        }
    }()

    /// Runs the driver to completion against the token labelled `label`; the PIN travels in the
    /// environment (CB_DRIVER_PIN), not on argv.
    static func runDriver(_ arguments: [String], token label: String, pin: String, environment: [String: String]) throws
        -> RunResult
    {
        var env = environment
        env["CB_DRIVER_PIN"] = pin
        return try run(try driver(), [SoftTokenRig.modulePath, label] + arguments, environment: env)
    }

    /// The data objects a fresh process finds on the token after logging in: label to value.
    static func listedObjects(token label: String, pin: String, environment: [String: String]) throws -> [String:
        String]
    {
        let listed = try runDriver(["list"], token: label, pin: pin, environment: environment)
        guard listed.status == 0 else {
            throw TestSupportError("driver list exited \(listed.status): \(listed.stderr)")
        }
        var objects: [String: String] = [:]
        for line in listed.stdout.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw TestSupportError("driver list printed \(line)") }
            objects[String(parts[0])] = String(parts[1])
        }
        return objects
    }

    /// pkcs11-tool against the software token module.
    static func pkcs11Tool(_ arguments: [String], environment: [String: String]) throws -> RunResult {
        try run("pkcs11-tool", ["--module", SoftTokenRig.modulePath] + arguments, environment: environment)
    }
}

/// A process started in the background, so a test can kill it at a moment of its choosing.
final class Background {
    let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    /// What the process wrote so far, read by `waitForLines`.
    private var received = Data()

    /// Starts the driver with `arguments` against the token labelled `label`.
    init(driver arguments: [String], token label: String, pin: String, environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: try OtherProcess.driver())
        process.arguments = [SoftTokenRig.modulePath, label] + arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        env["CB_DRIVER_PIN"] = pin
        process.environment = env
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Blocks until the process has written `count` complete lines (or ended).
    func waitForLines(_ count: Int) {
        while received.reduce(0, { $0 + ($1 == 0x0A ? 1 : 0) }) < count {
            let more = output.fileHandleForReading.availableData
            if more.isEmpty { return }
            received.append(more)
        }
    }

    /// SIGKILL: no handler runs, no buffer is flushed, no lock is released but by the kernel.
    func kill() { _ = Glibc.kill(process.processIdentifier, SIGKILL) }

    /// What the process wrote to stderr, once it has ended.
    private(set) var errorText = ""

    /// Waits for the end and returns the complete lines the process wrote, and whether it died
    /// by a signal. (The driver says little on stderr, so reading it after stdout cannot block.)
    func finish() -> (lines: [String], killed: Bool) {
        received.append(output.fileHandleForReading.readDataToEndOfFile())
        errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var text = String(decoding: received, as: UTF8.self)
        // A line without its newline was cut by the kill: it does not count.
        if !text.isEmpty && !text.hasSuffix("\n") {
            text = String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
        }
        return (text.split(separator: "\n").map(String.init), process.terminationReason == .uncaughtSignal)
    }
}

/// A software-token store of a test's own, reached only by child processes (the test process's
/// module is bound to the rig's store): for tools that initialize tokens in the empty slot, and
/// for tokens with a different KDF cost.
struct PrivateStore {
    let dir: TemporaryDirectory
    var path: String { dir.file("store") }
    let iterations: Int

    init(iterations: Int = Int(SoftTokenRig.iterations)!) throws {
        dir = try TemporaryDirectory("certbridge-softtoken-store")
        self.iterations = iterations
    }

    /// A new store with one token made by pkcs11-tool, labelled `prefix-` and a random number.
    static func withToken(_ prefix: String, iterations: Int = Int(SoftTokenRig.iterations)!) throws -> (
        store: PrivateStore, label: String
    ) {
        let store = try PrivateStore(iterations: iterations)
        let label = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
        try store.initializeToken(label: label)
        return (store, label)
    }

    var environment: [String: String] {
        ["CERTBRIDGE_SOFTTOKEN_DIR": path, "CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS": String(iterations)]
    }

    /// The directory of the one token in the store.
    func tokenDirectory() throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }
        guard names.count == 1 else { throw TestSupportError("expected one token in \(path), found \(names)") }
        return path + "/" + names[0]
    }

    /// A token made by pkcs11-tool in the empty slot (C_InitToken), with its user PIN set by the
    /// SO (C_InitPIN).
    func initializeToken(label: String, soPIN: String = SoftTokenRig.soPIN, userPIN: String = SoftTokenRig.userPIN)
        throws
    {
        let made = try OtherProcess.pkcs11Tool(
            ["--init-token", "--label", label, "--so-pin", soPIN], environment: environment)
        guard made.status == 0, made.stdout.contains("Token successfully initialized") else {
            throw TestSupportError("pkcs11-tool --init-token: \(made.stdout) \(made.stderr)")
        }
        let pin = try OtherProcess.pkcs11Tool(
            [
                "--token-label", label, "--init-pin", "--login", "--login-type", "so",
                "--so-pin", soPIN, "--pin", userPIN,
            ], environment: environment)
        guard pin.status == 0, pin.stdout.contains("User PIN successfully initialized") else {
            throw TestSupportError("pkcs11-tool --init-pin: \(pin.stdout) \(pin.stderr)")
        }
    }
}

/// The software token's directory for a token of the rig's store: named by its serial.
func tokenDirectory(of test: TestToken) throws -> String {
    try SoftTokenRig.storeDirectory() + "/" + test.token().info.serialNumber
}

/// Every regular file under `path` with its contents, for looking at what the disk holds.
func filesUnder(_ path: String) throws -> [(path: String, bytes: [UInt8])] {
    guard let walker = FileManager.default.enumerator(atPath: path) else {
        throw TestSupportError("cannot walk \(path)")
    }
    var files: [(String, [UInt8])] = []
    for case let name as String in walker {
        let full = path + "/" + name
        var info = stat()
        guard lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
        files.append((full, [UInt8](try Data(contentsOf: URL(fileURLWithPath: full)))))
    }
    return files
}

extension Array where Element == UInt8 {
    /// Whether `needle` occurs anywhere in these bytes.
    func contains(bytes needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { start in
            self[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}
