import Foundation

/// The counting PKCS#11 shim (Tests/CountingModule/counting-pkcs11.c), compiled by the tests
/// with the system C compiler so it never ships in a product. Each instance is its own copy of
/// the library, so it records into its own log even when tests share a process.
public struct CountingModule: Sendable {
    /// The library to load (or give the CLI with --module).
    public let path: String
    /// The record: one line per C_Login, C_SignInit, C_Sign, C_OpenSession, C_CloseSession,
    /// C_GetAttributeValue.
    public var logPath: String { path + ".log" }

    /// Builds a shim in `dir` that forwards to `target`, compiled in, so that tests running in
    /// parallel against different modules cannot cross.
    public static func make(forwardingTo target: String, in dir: TemporaryDirectory) throws -> CountingModule {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("CountingModule/counting-pkcs11.c").path
        let path = dir.file("libcounting-pkcs11-\(UInt32.random(in: 0...UInt32.max)).so")
        let built = try run(
            "cc",
            [
                "-shared", "-fPIC", "-O1", "-I/usr/include/p11-kit-1", "-DCOUNTING_TARGET=\"\(target)\"",
                "-o", path, source, "-ldl",
            ])
        guard built.status == 0 else { throw TestSupportError("cannot build the counting module: \(built.stderr)") }
        return CountingModule(path: path)
    }

    public static func environment(target: String) -> [String: String] { ["CERTBRIDGE_COUNTING_TARGET": target] }

    /// The recorded calls, in order.
    public func calls() throws -> [Call] {
        guard FileManager.default.fileExists(atPath: logPath) else { return [] }
        return try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").map { Call(String($0)) }
    }

    /// One recorded call: its name and its `key=value` fields.
    public struct Call: Sendable, CustomStringConvertible {
        public let function: String
        public let fields: [String: String]
        public let description: String

        init(_ line: String) {
            description = line
            let words = line.split(separator: " ")
            function = words.first.map(String.init) ?? ""
            var fields: [String: String] = [:]
            for word in words.dropFirst() {
                let pair = word.split(separator: "=", maxSplits: 1)
                if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
            }
            self.fields = fields
        }

        public var ok: Bool { fields["rv"] == "0x0" }
        /// For C_Login: 0 SO, 1 user, 2 context-specific.
        public var userType: Int? { fields["user"].flatMap { Int($0) } }
    }
}
