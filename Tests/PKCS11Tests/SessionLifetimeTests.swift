import Foundation
import PKCS11
import TestSupport
import Testing

/// What the PKCS11 layer promises about C calls, counted at the module boundary by the counting
/// shim in front of SoftHSM2: sessions close when the last reference goes, and attributes are
/// read in at most two C_GetAttributeValue passes whatever the token hides.
@Suite("sessions and attribute reads at the module boundary")
struct SessionLifetimeTests {
    /// The test token as seen through a counting shim loaded in this process.
    func countedToken(_ test: TestToken, in dir: TemporaryDirectory) throws -> (Token, CountingModule) {
        let counting = try CountingModule.make(forwardingTo: SoftHSM.modulePath, in: dir)
        let module = try Module.load(path: counting.path)
        for slot in try module.slots() {
            if let token = try? slot.token(), token.info.label == test.label { return (token, counting) }
        }
        throw TestSupportError("no token labelled \(test.label) through the counting module")
    }

    @Test("a session closes when its last reference goes away")
    func sessionClosesOnDeinit() throws {
        let dir = try TemporaryDirectory()
        let test = try SoftHSM.freshToken()
        let (token, counting) = try countedToken(test, in: dir)
        do {
            let session = try token.openSession()
            _ = try session.state()
        }
        let calls = try counting.calls()
        let opened = try #require(calls.first { $0.function == "C_OpenSession" && $0.ok }?.fields["session"])
        #expect(calls.contains { $0.function == "C_CloseSession" && $0.fields["session"] == opened && $0.ok })
    }

    @Test(
        "ten attributes, a sensitive one and one the object lacks among them, take exactly two C_GetAttributeValue calls"
    )
    func twoPasses() throws {
        let dir = try TemporaryDirectory()
        let test = try SoftHSM.freshToken()
        let (token, counting) = try countedToken(test, in: dir)
        let session = try token.openSession(readWrite: true)
        do { try session.login(.user, pin: test.pin) } catch {
            // Login state is per process and token: another test may have logged in already.
            if error.returnValue != .userAlreadyLoggedIn { throw error }
        }
        let (_, key) = try session.generateKeyPair(
            Mechanism(.ecKeyPairGen),
            publicTemplate: [
                Attribute(.ecParams, bytes: [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07])
            ],
            privateTemplate: [
                Attribute(.sign, true), Attribute(.sensitive, true), Attribute(.extractable, false),
                Attribute(.label, string: "two"),
            ])
        let before = try counting.calls().count
        let values = try key.attributes([
            .class, .keyType, .label, .id, .sensitive, .extractable, .neverExtractable, .local,
            .value, .modulus,
        ])
        let reads = try counting.calls().dropFirst(before).filter { $0.function == "C_GetAttributeValue" }
        #expect(reads.count == 2, "\(reads)")
        #expect(reads.allSatisfy { $0.fields["object"] == String(key.handle) })
        #expect(values.label == "two" && values.bool(.sensitive) == true)
        #expect(values[.value] == nil, "the sensitive value is left out, not an error")
        #expect(values[.modulus] == nil, "an EC key has no modulus")
    }
}
