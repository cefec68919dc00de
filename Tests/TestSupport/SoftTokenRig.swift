import Foundation
import PKCS11

/// CertBridge's own software token for this test process: its own store directory (via
/// CERTBRIDGE_SOFTTOKEN_DIR, set before the module is first loaded), a low KDF cost so that
/// logins stay fast, and fresh tokens made on demand in the empty slot, found by label.
public enum SoftTokenRig: TokenRig {
    public static let name = "software token"
    /// The software token locks the user PIN after five wrong tries.
    public static let userPINLockout: Int? = 5
    /// PBKDF2 iterations for test tokens (the module's floor; real tokens get 600,000).
    public static let iterations = "1000"

    /// `$CERTBRIDGE_SOFTTOKEN_MODULE`, else the library SwiftPM built beside this test bundle.
    public static var modulePath: String {
        _ = strict
        if let path = ProcessInfo.processInfo.environment["CERTBRIDGE_SOFTTOKEN_MODULE"] { return path }
        return URL(fileURLWithPath: CLI.path).deletingLastPathComponent().appendingPathComponent(
            "libcertbridge-softtoken.so"
        ).path
    }

    /// Strict PKCS#11 for this test process and every program it starts (unless a test says
    /// otherwise for its own children, as the approval tests do): the software token answers
    /// CKR_USER_NOT_LOGGED_IN without a context login instead of running a pinentry.
    private static let strict: Bool = {
        setenv("CERTBRIDGE_SOFTTOKEN_STRICT", "1", 0)
        return true
    }()

    private static let setup: Result<String, TestSupportError> = {
        let dir = NSTemporaryDirectory() + "/certbridge-softtoken-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            setenv("CERTBRIDGE_SOFTTOKEN_DIR", dir, 1)
            setenv("CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS", iterations, 1)
            // Throwaway tokens: writes stay atomic for a killed process (what the crash tests
            // prove) without an fsync per object, which made 10,000 objects take a minute.
            setenv("CERTBRIDGE_SOFTTOKEN_FSYNC", "0", 1)
            // Strict PKCS#11 for every test that does not ask for the module's own prompt:
            // CKR_USER_NOT_LOGGED_IN without a context login, as before (ApprovalRig unsets it
            // for the programs it runs).
            setenv("CERTBRIDGE_SOFTTOKEN_STRICT", "1", 1)
            // A static fixture is never deinitialised: its directory goes at process exit.
            atexit {
                if let dir = getenv("CERTBRIDGE_SOFTTOKEN_DIR") {
                    try? FileManager.default.removeItem(atPath: String(cString: dir))
                }
            }
            return .success(dir)
        } catch {
            return .failure(TestSupportError("cannot set up the software token: \(error)"))
        }
    }()

    /// The store directory of this test process.
    public static func storeDirectory() throws -> String { try setup.get() }

    /// The environment a child process needs to see the same tokens.
    public static func environment() throws -> [String: String] {
        [
            "CERTBRIDGE_SOFTTOKEN_DIR": try setup.get(), "CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS": iterations,
            "CERTBRIDGE_SOFTTOKEN_FSYNC": "0", "CERTBRIDGE_SOFTTOKEN_STRICT": "1",
        ]
    }

    public static let tokens = FreshTokens(labelPrefix: "st")
}

/// CertBridge's software token, for the parametrized tests.
public typealias SoftTokenFixture = RigFixture<SoftTokenRig>
