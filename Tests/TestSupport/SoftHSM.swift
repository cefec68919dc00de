import Foundation
import PKCS11

/// A private SoftHSM2 for this test process: its own token directory (via SOFTHSM2_CONF, set
/// before the module is first loaded) and fresh tokens made on demand, found by label.
public enum SoftHSM: TokenRig {
    public static let modulePath = "/usr/lib/softhsm/libsofthsm2.so"
    public static let name = "SoftHSM2"
    /// SoftHSM2 2.6.1 marks CKF_USER_PIN_COUNT_LOW after a wrong PIN but never locks it.
    public static let userPINLockout: Int? = nil

    /// This process's SoftHSM2 directory, removed at exit.
    nonisolated(unsafe) private static var removeAtExit: String?

    private static let setup: Result<String, TestSupportError> = {
        let base = NSTemporaryDirectory() + "/certbridge-softhsm-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let tokens = base + "/tokens"
        do {
            try FileManager.default.createDirectory(
                atPath: tokens, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            let conf = base + "/softhsm2.conf"
            // Not `atomically:`, which leaves a TemporaryDirectory.* behind in /tmp on Linux.
            try Data("directories.tokendir = \(tokens)\nobjectstore.backend = file\nlog.level = ERROR\n".utf8)
                .write(to: URL(fileURLWithPath: conf))
            setenv("SOFTHSM2_CONF", conf, 1)
            // A static fixture is never deinitialised: its tokens go at process exit.
            removeAtExit = base
            atexit { if let base = SoftHSM.removeAtExit { try? FileManager.default.removeItem(atPath: base) } }
            return .success(conf)
        } catch {
            return .failure(TestSupportError("cannot set up SoftHSM2: \(error)"))
        }
    }()

    /// SOFTHSM2_CONF for child processes (the CLI under test, softhsm2-util, pkcs11-tool).
    public static func environment() throws -> [String: String] {
        ["SOFTHSM2_CONF": try setup.get()]
    }

    public static let tokens = FreshTokens(labelPrefix: "cb")
}

/// A token made for one test.
public struct TestToken: Sendable {
    public let label: String
    public let module: Module
    public let userPIN: String
    public let soPIN: String

    public var pin: PIN { PIN(bytes: Array(userPIN.utf8)) }

    /// The token as the PKCS11 layer sees it now.
    public func token() throws -> Token { try Self.find(label: label, in: module) }

    /// A read-write session logged in as the user.
    public func userSession() throws -> Session {
        let session = try token().openSession(readWrite: true)
        // Login state is shared by all sessions of this process on the token.
        do { try session.login(.user, pin: pin) } catch  where error.returnValue == .userAlreadyLoggedIn {}
        return session
    }

    /// Initializes the module's empty slot as a token with this label, SO PIN and user PIN, and
    /// finds it again by label (slot ids may change after C_InitToken).
    static func initialize(in module: Module, label: String, soPIN: String, userPIN: String) throws -> TestToken {
        let free = try module.slots().first { slot in
            (try? slot.token().info.flags.contains(.tokenInitialized)) == false
        }
        guard let free else { throw TestSupportError("\(module.path) has no free slot") }
        try free.initializeToken(label: label, soPIN: PIN(bytes: Array(soPIN.utf8)))
        let token = try find(label: label, in: module)
        let session = try token.openSession(readWrite: true)
        try session.login(.securityOfficer, pin: PIN(bytes: Array(soPIN.utf8)))
        try session.initializeUserPIN(PIN(bytes: Array(userPIN.utf8)))
        try session.logout()
        return TestToken(label: label, module: module, userPIN: userPIN, soPIN: soPIN)
    }

    static func find(label: String, in module: Module) throws -> Token {
        for slot in try module.slots() {
            if let token = try? slot.token(), token.info.label == label { return token }
        }
        throw TestSupportError("no token labelled \(label)")
    }
}
