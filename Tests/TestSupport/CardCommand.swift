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
    /// Runs `tool` (a path, or a name looked up on PATH by /usr/bin/env, so that a missing tool
    /// is a status of 127 rather than an error) to completion off the caller's thread and
    /// collects its output.
    public static func runProcess(
        _ tool: String, _ arguments: [String],
        environment: [String: String] = [:],
        input: Data? = nil
    ) async throws -> CardCommandResult {
        let (executable, arguments) = tool.contains("/") ? (tool, arguments) : ("/usr/bin/env", [tool] + arguments)
        let result = try await blocking {
            Result { try TestSupport.run(executable, arguments, environment: environment, input: input) }
        }.get()
        return CardCommandResult(status: result.status, standardOutput: result.stdout, standardError: result.stderr)
    }
}
