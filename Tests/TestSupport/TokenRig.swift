import Foundation
import PKCS11
import Synchronization

/// A module that makes fresh tokens for this test process in a directory of its own: SoftHSM2
/// and CertBridge's software token.
public protocol TokenRig {
    /// The module's shared library.
    static var modulePath: String { get }
    /// How test names and messages call this kind of token.
    static var name: String { get }
    /// Wrong user PINs after which the token locks the PIN; nil when it never does.
    static var userPINLockout: Int? { get }
    /// Environment a child process needs to see the same tokens; the first call sets the
    /// directory up, before the module is first loaded.
    static func environment() throws -> [String: String]
    /// The tokens made in this module so far.
    static var tokens: FreshTokens { get }
}

extension TokenRig {
    public static var userPIN: String { "1234" }
    public static var soPIN: String { "12345678" }

    /// The module, loaded after its directory is set up.
    public static func module() throws -> Module {
        _ = try environment()
        return try Module.load(path: modulePath)
    }

    /// A new, initialized token with a user PIN, labelled uniquely unless a label is given.
    public static func freshToken(label: String? = nil) throws -> TestToken {
        try tokens.make(in: module(), label: label, soPIN: soPIN, userPIN: userPIN)
    }

    /// A new token and a read-write session on it, logged in as the user.
    public static func freshSession() throws -> (test: TestToken, session: Session) {
        try RigFixture<Self>().freshSession()
    }
}

/// Makes tokens in a module's one uninitialized slot, one at a time: two tests must not race
/// for it (SoftHSM2 and the software token each keep a single empty slot).
public final class FreshTokens: Sendable {
    let labelPrefix: String
    private let lock = Mutex(())

    public init(labelPrefix: String) { self.labelPrefix = labelPrefix }

    /// A new, initialized token with a user PIN, labelled uniquely unless a label is given.
    func make(in module: Module, label: String?, soPIN: String, userPIN: String) throws -> TestToken {
        let label = label ?? "\(labelPrefix)-\(UInt32.random(in: 0...UInt32.max))"
        return try lock.withLock { _ in
            try TestToken.initialize(in: module, label: label, soPIN: soPIN, userPIN: userPIN)
        }
    }
}

/// A rig as a kind of token the parametrized tests run against.
public struct RigFixture<Rig: TokenRig>: TokenFixture {
    public init() {}
    public var description: String { Rig.name }
    public var modulePath: String { Rig.modulePath }
    public func freshToken() throws -> TestToken { try Rig.freshToken() }
    public func environment() throws -> [String: String] { try Rig.environment() }
    public var userPINLockout: Int? { Rig.userPINLockout }
}
