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

/// SoftHSM2, for the parametrized tests.
public typealias SoftHSMFixture = RigFixture<SoftHSM>

extension TokenFixture {
    /// A new token of this kind and a read-write session on it, logged in as the user.
    public func freshSession() throws -> (test: TestToken, session: Session) {
        let test = try freshToken()
        return (test, try test.userSession())
    }
}

public enum TokenFixtures {
    /// Every token kind the signing tests run on.
    public static let all: [any TokenFixture] = [SoftHSMFixture(), SoftTokenFixture()]
}
