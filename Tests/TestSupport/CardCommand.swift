import Foundation

/// What a child process of a card test did.
public struct CardCommandResult: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String

    /// Output and error together, for failure messages.
    public var combined: String { standardOutput + standardError }
}

extension CardRig {
    /// Runs `tool` (a path, or a name looked up on PATH) to completion and collects its output.
    public static func runProcess(
        _ tool: String, _ arguments: [String],
        environment: [String: String] = [:],
        input: Data? = nil
    ) async throws -> CardCommandResult {
        let process = Process()
        if tool.contains("/") {
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [tool] + arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        let error = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = stdin
        try process.run()
        return await blocking {
            if let input { stdin.fileHandleForWriting.write(input) }
            try? stdin.fileHandleForWriting.close()
            // Read both pipes before waiting, so a chatty tool never blocks on a full pipe.
            let group = DispatchGroup()
            nonisolated(unsafe) var errorData = Data()
            group.enter()
            DispatchQueue.global().async {
                errorData = error.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
            let outputData = output.fileHandleForReading.readDataToEndOfFile()
            group.wait()
            process.waitUntilExit()
            return CardCommandResult(
                status: process.terminationStatus,
                standardOutput: String(decoding: outputData, as: UTF8.self),
                standardError: String(decoding: errorData, as: UTF8.self))
        }
    }
}
