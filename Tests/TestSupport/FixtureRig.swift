import Foundation
import PKCS11

/// A fresh token of one fixture, a temporary directory, and the user PIN in a file there: what
/// the CLI tests that run on every fixture in `TokenFixtures.all` start from.
public struct FixtureRig: Sendable {
    public let fixture: any TokenFixture
    public let test: TestToken
    public let dir: TemporaryDirectory
    public let pinFile: String

    public init(_ fixture: any TokenFixture) throws {
        self.fixture = fixture
        test = try fixture.freshToken()
        dir = try TemporaryDirectory()
        pinFile = try dir.write("pin", test.userPIN + "\n")
    }

    /// Installs a test key (and its certificate) on the token in a user session.
    public func install(_ type: TestKeyType, high: Bool = false, label: String, id: [UInt8]) throws -> InstalledKey {
        let session = try test.userSession()
        defer { try? session.logout() }
        return try TestKeys.install(type, high: high, label: label, id: id, token: test, session: session, in: dir)
    }

    /// certbridge on the fixture's module (or `module`, a shim in front of it), with the
    /// fixture's environment and `environment` over it.
    public func certbridge(
        _ arguments: [String], module: String? = nil, environment: [String: String] = [:], input: String? = nil
    ) throws -> RunResult {
        var env = try fixture.environment()
        for (key, value) in environment { env[key] = value }
        return try run(
            CLI.path, arguments + ["--module", module ?? fixture.modulePath], environment: env,
            input: Data((input ?? "").utf8))
    }

    /// certbridge on the fixture's module with the user PIN from `pinFile`.
    public func certbridgeWithPIN(_ arguments: [String]) throws -> RunResult {
        try certbridge(arguments + pin)
    }

    public var tokenURI: String { "pkcs11:token=\(test.label)" }
    public var pin: [String] { ["--pin-source", "file:\(pinFile)"] }
}
