import Foundation

/// A fresh token and a temporary directory, and certbridge against the token the way a script
/// drives it: the modules named with --module, and the user PIN from `$PIN` (never on argv), in
/// this test process's SoftHSM2 and software token environment.
public struct TokenCLI: Sendable {
    public let test: TestToken
    public let dir: TemporaryDirectory
    /// The module paths every command is given.
    public let modulePaths: [String]

    /// A fresh token of `fixture`, reached through `modules` (the fixture's own module unless given).
    public init(_ fixture: any TokenFixture, modules: [String]? = nil) throws {
        test = try fixture.freshToken()
        dir = try TemporaryDirectory()
        modulePaths = modules ?? [fixture.modulePath]
    }

    /// A fresh SoftHSM2 token, reached through SoftHSM2 alone.
    public static func softHSM() throws -> TokenCLI { try TokenCLI(SoftHSMFixture()) }

    /// Both token kinds loaded, so a command finds the token by its label alone.
    public static let everyModule = [SoftHSM.modulePath, SoftTokenRig.modulePath]

    /// `pkcs11:token=LABEL`.
    public var tokenURI: String { "pkcs11:token=\(test.label)" }

    /// The URI of the object labelled `object` on the token.
    public func uri(_ object: String) -> String { "\(tokenURI);object=\(object)" }

    /// The --module arguments alone (for a command that logs in to nothing).
    public var modules: [String] { modulePaths.flatMap { ["--module", $0] } }

    /// What every command is given: the PIN source and the modules.
    public var pin: [String] { ["--pin-source", "env:PIN"] + modules }

    /// `$PIN` for the child, and `extra` over it (a test may give another PIN there).
    public func environment(_ extra: [String: String] = [:]) -> [String: String] {
        ["PIN": test.userPIN].merging(extra) { $1 }
    }

    /// Runs certbridge with the PIN source and the modules after `arguments`.
    @discardableResult
    public func run(_ arguments: [String], environment extra: [String: String] = [:], input: String? = nil) throws
        -> RunResult
    {
        try CLI.run(arguments + pin, environment: environment(extra), input: input)
    }

    /// Runs certbridge with `--json` (and the PIN source and modules), requires exit 0, and
    /// decodes what it printed.
    public func json<T: Decodable>(_ type: T.Type, _ arguments: [String], environment extra: [String: String] = [:])
        throws -> T
    {
        try CLI.json(type, arguments + pin, environment: environment(extra))
    }

    /// The objects on the token as `objects --json` lists them, with `attributes` (e.g.
    /// ";type=private") added to the token's URI.
    public func objects(_ attributes: String = "") throws -> [ObjectJSON] {
        try json([ObjectJSON].self, ["objects", tokenURI + attributes])
    }

    /// The token as `tokens --json` lists it now (its PIN state and flags).
    public func listed() throws -> TokenJSON { try TokenJSON.listed(test.label, modules: modulePaths) }
}
