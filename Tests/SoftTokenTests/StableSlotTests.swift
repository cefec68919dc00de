import Foundation
import TestSupport
import Testing

/// A token made by C_InitToken in the empty slot keeps that slot id until C_Finalize, so a
/// program that initialises a token and then opens a session on the same slot finds it.
@Suite("software token slots stay put within one C_Initialize")
struct StableSlotTests {
    @Test(
        "pkcs11-tool --init-token --init-pin --label X --so-pin S --pin P works in one command on an empty store, and the token then serves a login"
    )
    func initTokenAndPINInOneCommand() throws {
        let store = try PrivateStore()
        let label = "one-\(UInt32.random(in: 0...UInt32.max))"
        let made = try OtherProcess.pkcs11Tool(
            [
                "--slot", "0", "--init-token", "--init-pin", "--label", label,
                "--so-pin", SoftTokenRig.soPIN, "--pin", SoftTokenRig.userPIN,
            ],
            environment: store.environment)
        #expect(made.status == 0, "\(made.stdout) \(made.stderr)")
        #expect(!made.stderr.contains("CKR_"), "\(made.stderr)")
        let listed = try OtherProcess.pkcs11Tool(
            ["--token-label", label, "--login", "--pin", SoftTokenRig.userPIN, "-O"],
            environment: store.environment)
        #expect(listed.status == 0, "a login with the new user PIN: \(listed.stdout) \(listed.stderr)")
    }
}
