import Foundation
import TestSupport
import Testing

@testable import PKCS11
@testable import SoftToken

/// The process remembers its last user login when the token's last session closes (clients such
/// as p11tool open a session and log in once per object). What must hold: only the right PIN is
/// answered from memory, every try is still counted on disk, a locked PIN stays locked, and a PIN
/// changed by another process is never answered from the old login.
@Suite("software token: the remembered login")
struct RememberedLoginTests {
    static var wrongPIN: PIN { PIN(bytes: Array("0000".utf8)) }

    /// A data object only a logged-in user sees, made in a session that closes before returning.
    static func makePrivateObject(_ test: TestToken, label: String) throws {
        let session = try test.userSession()
        _ = try session.createObject([
            Attribute(.data), Attribute(.token, true), Attribute(.private, true), Attribute(.label, string: label),
        ])
    }

    @Test(
        "after the last session closed, a wrong PIN is counted and refused, the right PIN opens the private objects and clears the count"
    )
    func wrongThenRight() throws {
        let test = try SoftTokenRig.freshToken()
        try Self.makePrivateObject(test, label: "kept")
        let session = try test.token().openSession(readWrite: true)
        let refused = #expect(throws: PKCS11Error.self) { try session.login(.user, pin: Self.wrongPIN) }
        #expect(refused?.returnValue == .pinIncorrect)
        #expect(try test.token().info.flags.contains(.userPINCountLow), "the wrong try was not counted")
        try session.login(.user, pin: test.pin)
        #expect(try !test.token().info.flags.contains(.userPINCountLow))
        #expect(try session.findObjects([Attribute(.label, string: "kept")]).count == 1)
    }

    @Test(
        "after C_Logout (which forgets the remembered login) a login through the KDF reads the catalog again and finds the private objects; a wrong PIN still fails"
    )
    func afterExplicitLogout() throws {
        let test = try SoftTokenRig.freshToken()
        let session = try test.userSession()
        _ = try session.createObject([
            Attribute(.data), Attribute(.token, true), Attribute(.private, true), Attribute(.label, string: "kept"),
        ])
        try session.logout()
        let hidden = try session.findObjects([Attribute(.label, string: "kept")])
        #expect(hidden.isEmpty, "a private object while logged out")
        let refused = #expect(throws: PKCS11Error.self) { try session.login(.user, pin: Self.wrongPIN) }
        #expect(refused?.returnValue == .pinIncorrect)
        try session.login(.user, pin: test.pin)
        #expect(try session.findObjects([Attribute(.label, string: "kept")]).count == 1)
    }

    @Test("a PIN locked after the last session closed stays locked for the right PIN")
    func lockedStaysLocked() throws {
        let test = try SoftTokenRig.freshToken()
        try Self.makePrivateObject(test, label: "kept")
        let session = try test.token().openSession(readWrite: true)
        for _ in 1...5 { _ = try? session.login(.user, pin: Self.wrongPIN) }
        let refused = #expect(throws: PKCS11Error.self) { try session.login(.user, pin: test.pin) }
        #expect(refused?.returnValue == .pinLocked)
    }

    @Test("a PIN that another process changed: the old PIN is refused here, the new one logs in")
    func changedElsewhere() throws {
        let test = try SoftTokenRig.freshToken()
        try Self.makePrivateObject(test, label: "kept")
        var environment = try SoftTokenRig.environment()
        environment["CB_DRIVER_NEW_PIN"] = "2468"
        let changed = try OtherProcess.runDriver(
            ["setpin"], token: test.label, pin: test.userPIN, environment: environment)
        try #require(changed.stdout.contains("rv=0x0\n"), "\(changed.stdout) \(changed.stderr)")
        let session = try test.token().openSession(readWrite: true)
        let refused = #expect(throws: PKCS11Error.self) { try session.login(.user, pin: test.pin) }
        #expect(refused?.returnValue == .pinIncorrect)
        try session.login(.user, pin: PIN(bytes: Array("2468".utf8)))
        #expect(try session.findObjects([Attribute(.label, string: "kept")]).count == 1)
    }

    @Test("the remembered key answers only the PIN that opened it, and only while the token file wraps the key as then")
    func answersOnlyTheSamePIN() throws {
        let record = TokenRecord(
            label: Array(repeating: 0x20, count: 32), serial: "0011223344556677", iterations: 1000,
            soSalt: [1], soWrapped: [2], userSalt: [3, 3], userWrapped: [4, 4])
        let key = [UInt8](repeating: 0xA5, count: 32)
        let pin = Array("1234".utf8)
        let remembered = try #require(RememberedLogin(masterKey: key, pin: pin, record: record))
        #expect(remembered.masterKey(pin: pin, record: record) == key)
        #expect(remembered.masterKey(pin: Array("1235".utf8), record: record) == nil)
        #expect(remembered.masterKey(pin: Array("12345".utf8), record: record) == nil)
        var rewrapped = record
        rewrapped.userWrapped = [5, 5]
        #expect(remembered.masterKey(pin: pin, record: rewrapped) == nil, "a PIN changed elsewhere")
        var slower = record
        slower.iterations = 2000
        #expect(remembered.masterKey(pin: pin, record: slower) == nil)
    }
}
