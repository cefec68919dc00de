import Foundation

/// A SoftHSM2 of one test's own, in a directory of its own, so that "every token" is exactly
/// the tokens the test makes (this process's shared SoftHSM2 holds every other test's tokens).
public struct PrivateSoftHSM: Sendable {
    /// The configuration file a child process is pointed at with SOFTHSM2_CONF.
    public let conf: String

    /// An empty SoftHSM2 below `dir`.
    public init(in dir: TemporaryDirectory) throws {
        let tokens = dir.file("softhsm")
        try FileManager.default.createDirectory(atPath: tokens, withIntermediateDirectories: true)
        conf = try dir.write(
            "softhsm2.conf", "directories.tokendir = \(tokens)\nobjectstore.backend = file\nlog.level = ERROR\n")
    }

    /// What a child process needs to see this SoftHSM2 (and no other).
    public var environment: [String: String] { ["SOFTHSM2_CONF": conf] }

    /// A new token made by `softhsm2-util --init-token --free`, with SoftHSM's SO PIN and `pin`.
    public func initToken(label: String, pin: String = SoftHSM.userPIN) throws {
        let made = try run(
            "softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", SoftHSM.soPIN, "--pin", pin],
            environment: environment)
        guard made.status == 0 else { throw TestSupportError("softhsm2-util --init-token: \(made.stderr)") }
    }
}

/// A software token store of one test's own, in a directory of its own, with the test KDF cost.
public struct PrivateSoftTokenStore: Sendable {
    /// The store directory, for CERTBRIDGE_SOFTTOKEN_DIR.
    public let path: String

    /// An empty store below `dir`.
    public init(in dir: TemporaryDirectory) throws {
        path = dir.file("softtoken")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// What a child process needs to use this store (and no other).
    public var environment: [String: String] {
        ["CERTBRIDGE_SOFTTOKEN_DIR": path, "CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS": SoftTokenRig.iterations]
    }
}
