import Foundation

/// The built `certbridge` binary, run as a user would run it.
public enum CLI {
    /// `$CERTBRIDGE_BIN`, else the binary SwiftPM built beside this test bundle.
    public static var path: String {
        if let path = ProcessInfo.processInfo.environment["CERTBRIDGE_BIN"] { return path }
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("certbridge").path
    }

    /// Runs certbridge with this test process's SoftHSM2 configuration and software token store
    /// in its environment. Standard input is empty unless given, so nothing can wait on a terminal.
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String] = [:], input: String? = nil) throws
        -> RunResult
    {
        var env = try SoftHSM.environment().merging(SoftTokenRig.environment()) { $1 }
        for (key, value) in environment { env[key] = value }
        return try TestSupport.run(path, arguments, environment: env, input: input.map { Data($0.utf8) } ?? Data())
    }

    /// Runs certbridge and decodes its `--json` output.
    public static func json<T: Decodable>(
        _ type: T.Type, _ arguments: [String], environment: [String: String] = [:], input: String? = nil
    ) throws -> T {
        let result = try run(arguments + ["--json"], environment: environment, input: input)
        guard result.status == 0 else {
            throw TestSupportError(
                "certbridge \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: result.stdoutData)
    }
}
