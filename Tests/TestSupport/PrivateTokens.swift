import Foundation

/// A SoftHSM2 of one test's own, in a directory of its own, so that "every token" is exactly
/// the tokens the test makes (this process's shared SoftHSM2 holds every other test's tokens).
public struct PrivateSoftHSM: Sendable {
    /// The directory below which the tokens live; tests keep their other files there too.
    public let dir: TemporaryDirectory
    /// The configuration file a child process is pointed at with SOFTHSM2_CONF.
    public let conf: String
    /// SoftHSM's user PIN (what `initToken` gives unless told otherwise), in a file.
    public let pinFile: String

    /// An empty SoftHSM2 below `dir` (a new temporary directory unless given).
    public init(in dir: TemporaryDirectory? = nil) throws {
        self.dir = try dir ?? TemporaryDirectory()
        let tokens = self.dir.file("softhsm")
        try FileManager.default.createDirectory(atPath: tokens, withIntermediateDirectories: true)
        conf = try self.dir.write(
            "softhsm2.conf", "directories.tokendir = \(tokens)\nobjectstore.backend = file\nlog.level = ERROR\n")
        pinFile = try self.dir.write("softhsm-pin", SoftHSM.userPIN + "\n")
    }

    /// What a child process needs to see this SoftHSM2 (and no other).
    public var environment: [String: String] { ["SOFTHSM2_CONF": conf] }

    /// `--pin-source` for SoftHSM's user PIN, from `pinFile`.
    public var pin: [String] { ["--pin-source", "file:\(pinFile)"] }

    /// A new token made by `softhsm2-util --init-token --free`, with SoftHSM's SO PIN and `pin`.
    public func initToken(label: String, pin: String = SoftHSM.userPIN) throws {
        let made = try run(
            "softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", SoftHSM.soPIN, "--pin", pin],
            environment: environment)
        guard made.status == 0 else { throw TestSupportError("softhsm2-util --init-token: \(made.stderr)") }
    }

    /// certbridge on SoftHSM2 with this directory's tokens alone.
    @discardableResult
    public func certbridge(_ arguments: [String]) throws -> RunResult {
        try CLI.run(arguments + ["--module", SoftHSM.modulePath], environment: environment)
    }

    /// certbridge with `--json` on this directory's tokens; requires exit 0 and decodes the output.
    public func json<T: Decodable>(_ type: T.Type, _ arguments: [String]) throws -> T {
        try CLI.json(type, arguments + ["--module", SoftHSM.modulePath], environment: environment)
    }
}

/// A software token store of one test's own, in a directory of its own, with the test KDF cost.
public struct PrivateSoftTokenStore: Sendable {
    /// The directory holding the store; tests keep their other files there too.
    public let dir: TemporaryDirectory
    /// The store directory, for CERTBRIDGE_SOFTTOKEN_DIR.
    public let path: String

    /// An empty store below `dir` (a new temporary directory unless given).
    public init(in dir: TemporaryDirectory? = nil) throws {
        self.dir = try dir ?? TemporaryDirectory()
        path = self.dir.file("softtoken")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// What a child process needs to use this store (and no other).
    public var environment: [String: String] {
        ["CERTBRIDGE_SOFTTOKEN_DIR": path, "CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS": SoftTokenRig.iterations]
    }
}
