import Foundation
import PKCS11

/// A kind of token the parametrized tests run against: SoftHSM2 and CertBridge's software token.
public protocol TokenFixture: Sendable, CustomStringConvertible {
    /// The module the CLI is given with --module, and the one the counting shim forwards to.
    var modulePath: String { get }
    /// A new, initialized token with a user PIN.
    func freshToken() throws -> TestToken
    /// Environment a child process (the CLI) needs to see the same tokens.
    func environment() throws -> [String: String]
    /// Wrong user PINs after which the token locks the PIN; nil when it never does.
    var userPINLockout: Int? { get }
}

/// SoftHSM2 2.6.1: it marks CKF_USER_PIN_COUNT_LOW after a wrong PIN but never locks it.
public struct SoftHSMFixture: TokenFixture {
    public init() {}
    public var description: String { "SoftHSM2" }
    public var modulePath: String { SoftHSM.modulePath }
    public func freshToken() throws -> TestToken { try SoftHSM.freshToken() }
    public func environment() throws -> [String: String] { try SoftHSM.environment() }
    public var userPINLockout: Int? { nil }
}

public enum TokenFixtures {
    /// Every token kind the signing tests run on.
    public static let all: [any TokenFixture] = [SoftHSMFixture(), SoftTokenFixture()]
}
