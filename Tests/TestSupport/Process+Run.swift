import Foundation

/// The outcome of running a program.
public struct RunResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public let stdoutData: Data
}

/// Runs a program to completion. `input` is written to its standard input (then closed), so
/// tests hand PINs to tools the way a user's script would, never on argv.
@discardableResult
public func run(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:],
    input: Data? = nil, currentDirectory: String? = nil
) throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : try which(executable))
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let out = Pipe()
    let err = Pipe()
    let inp = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inp
    try process.run()
    if let input { inp.fileHandleForWriting.write(input) }
    try inp.fileHandleForWriting.close()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    let errData = LockedData()
    let reader = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errData.done { usleep(1000) }
    return RunResult(
        status: process.terminationStatus,
        stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData.value, as: UTF8.self),
        stdoutData: outData)
}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var finished = false
    func set(_ value: Data) {
        lock.lock()
        data = value
        finished = true
        lock.unlock()
    }
    var done: Bool {
        lock.lock()
        defer { lock.unlock() }
        return finished
    }
    var value: Data {
        lock.lock()
        defer { lock.unlock() }
        return data
    }
}

/// The absolute path of a program on PATH.
public func which(_ name: String) throws -> String {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw TestSupportError("\(name) is not installed (run scripts/install-deps)")
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A private temporary directory, removed when the value goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ prefix: String = "certbridge-test") throws {
        var template = Array("\(NSTemporaryDirectory())/\(prefix).XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestSupportError("mkdtemp failed") }
        path = String(cString: made)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Writes `contents` to a file in the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ contents: String) throws -> String {
        try Data(contents.utf8).write(to: URL(fileURLWithPath: file(name)))
        return file(name)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
