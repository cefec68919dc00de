import Foundation

/// The virtual smart-card rig for tests: a private pcscd (its own mount and network namespaces)
/// with vsmartcard's vpcd as reader "Yubico CertBridge Virtual YubiKey 00 00" and the virtual PIV
/// card of Tests/VirtualCard in it. The Python side (`Tests/VirtualCard/rig.py serve`) does the
/// work; this type starts it, waits for "READY", and stops it by closing its standard input —
/// so a test process that dies also takes the rig down.
///
/// One rig at a time per test process: `start()` waits until the previous rig stopped. libpcsclite
/// reads `PCSCLITE_CSOCK_NAME` once per process, so every rig of a process uses the same socket
/// path, `CardRig.socketPath`, and `start()` points this process at it.
///
///     try await CardRig.withRig { rig in
///         let result = try await rig.run("pkcs11-tool", ["--module", CardRig.opensc, "-L"])
///     }
public final class CardRig: @unchecked Sendable {
    /// The rig directory of this test process: pcscd's socket, the card's state and the logs.
    public static let directory = URL(fileURLWithPath: NSTemporaryDirectory())
        .appendingPathComponent("certbridge-cardrig-\(ProcessInfo.processInfo.processIdentifier)")
    /// pcscd's socket inside the rig; what `PCSCLITE_CSOCK_NAME` must say.
    public static let socketPath = directory.appendingPathComponent("run/pcscd/pcscd.comm").path
    /// The reader the virtual card sits in.
    public static let readerName = "Yubico CertBridge Virtual YubiKey 00 00"
    /// The virtual card's ATR (upper-case hex).
    public static let atrHex = "3B8C8001805A43657274427269646765C8"
    /// The PKCS#11 modules the rig is tested with.
    public static let opensc = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
    public static let ykcs11 = "/usr/lib/x86_64-linux-gnu/libykcs11.so"
    /// Tests/VirtualCard, found from this file's path.
    public static let virtualCardDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("VirtualCard")

    /// The card's state file (JSON); survives pull and insert, reset by `start(freshCard: true)`.
    public let stateFile: String
    /// What a child process needs to reach the rig: `PCSCLITE_CSOCK_NAME` and CERTBRIDGE_CARD_*.
    public let environment: [String: String]
    private let process: Process
    private let input: Pipe
    private var stopped = false

    private init(process: Process, input: Pipe, environment: [String: String]) {
        self.process = process
        self.input = input
        self.environment = environment
        self.stateFile = environment["CERTBRIDGE_CARD_STATE"] ?? ""
    }

    /// Points this process's PC/SC client at the rig's socket (whether or not a rig runs), so
    /// that a test without a rig sees "pcscd is not running".
    public static func usePrivateSocket() {
        setenv("PCSCLITE_CSOCK_NAME", socketPath, 1)
    }

    /// Starts a rig once the previous one of this process has stopped; with `freshCard` the card
    /// comes from the factory (default PIN 123456, PUK 12345678, default management key).
    public static func start(freshCard: Bool = true) async throws -> CardRig {
        await CardRigGate.shared.acquire()
        do {
            return try await launch(freshCard: freshCard)
        } catch {
            await CardRigGate.shared.release()
            throw error
        }
    }

    /// Runs `body` while no rig runs (holding the rig gate), with this process pointed at the rig's
    /// socket: nobody listens there, which is how a test sees "pcscd is not running".
    public static func withoutRig<R: Sendable>(_ body: () async throws -> R) async throws -> R {
        await CardRigGate.shared.acquire()
        usePrivateSocket()
        do {
            let result = try await body()
            await CardRigGate.shared.release()
            return result
        } catch {
            await CardRigGate.shared.release()
            throw error
        }
    }

    /// Runs `body` with a started rig and stops the rig afterwards, whatever happens.
    public static func withRig<R: Sendable>(
        freshCard: Bool = true,
        _ body: (CardRig) async throws -> R
    ) async throws -> R {
        let rig = try await start(freshCard: freshCard)
        do {
            let result = try await body(rig)
            await rig.stop()
            return result
        } catch {
            await rig.stop()
            throw error
        }
    }

    private static func launch(freshCard: Bool) async throws -> CardRig {
        usePrivateSocket()
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
        let state = directory.appendingPathComponent("card.json")
        if freshCard { try? fileManager.removeItem(at: state) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: CardRig.python)
        process.arguments = [
            virtualCardDirectory.appendingPathComponent("rig.py").path, "serve",
            "--dir", directory.path, "--apdu-log",
        ]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()

        // rig.py prints one line: "READY {json}" or "FAILED reason".
        let line = await CardRig.blocking { CardRig.readLine(output.fileHandleForReading) }
        guard line.hasPrefix("READY "),
            let json = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))
                as? [String: Any]
        else {
            try? input.fileHandleForWriting.close()
            await CardRig.blocking { process.waitUntilExit() }
            throw CardRigError(message: "the card rig did not start: \(line) (see \(directory.path))")
        }
        var environment: [String: String] = [:]
        for (key, value) in json {
            if key == key.uppercased(), let text = value as? String { environment[key] = text }
        }
        return CardRig(process: process, input: input, environment: environment)
    }

    /// Stops pcscd and the card and waits until they are gone, then removes the rig directory
    /// (kept, with pcscd.log, card.log and apdu.log, when CERTBRIDGE_KEEP_CARD_RIG is set).
    /// Safe to call twice.
    public func stop() async {
        guard !stopped else { return }
        stopped = true
        try? input.fileHandleForWriting.close()
        await CardRig.blocking { self.process.waitUntilExit() }
        if ProcessInfo.processInfo.environment["CERTBRIDGE_KEEP_CARD_RIG"] == nil {
            try? FileManager.default.removeItem(at: CardRig.directory)
        }
        await CardRigGate.shared.release()
    }

    /// Takes the card out of the reader; returns once pcscd reports the reader empty.
    public func pull() async throws {
        try await control("pull")
    }

    /// Puts the card back (same state file); returns once pcscd reports the card present.
    public func insert() async throws {
        try await control("insert")
    }

    /// Arms a fault: the card is pulled instead of carrying out the next PUT DATA (the write of
    /// a certificate or other object), as if the user pulled it in the middle of that write.
    public func pullOnNextObjectWrite() async throws {
        try await control("pull-on-put-data")
    }

    private func control(_ command: String) async throws {
        let result = try await CardRig.runProcess(
            CardRig.python,
            [
                CardRig.virtualCardDirectory.appendingPathComponent("rig.py").path, command,
                "--dir", CardRig.directory.path,
            ],
            environment: environment)
        guard result.status == 0 else {
            throw CardRigError(message: "rig \(command) failed: \(result.standardError)")
        }
    }

    /// Runs a tool (found on PATH) with the rig's environment; `input` goes to its standard input.
    public func run(_ tool: String, _ arguments: [String], input: Data? = nil) async throws
        -> CardCommandResult
    {
        try await CardRig.runProcess(tool, arguments, environment: environment, input: input)
    }

    static var python: String {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
            ? "/usr/bin/python3"
            : "/usr/local/bin/python3"
    }

    private static func readLine(_ handle: FileHandle) -> String {
        var bytes: [UInt8] = []
        while true {
            let chunk = handle.readData(ofLength: 1)
            if chunk.isEmpty || chunk.first == UInt8(ascii: "\n") { break }
            bytes.append(contentsOf: chunk)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Runs blocking work off Swift's cooperative threads (there are only two on this machine).
    static func blocking<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }
}

/// A rig that would not start or obey.
public struct CardRigError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
