import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// CKA_ALLOWED_MECHANISMS limits what a key does: any other mechanism is CKR_MECHANISM_INVALID.
@Suite("CKA_ALLOWED_MECHANISMS enforced")
struct AllowedMechanismsTests {
    @Test(
        "a key limited to CKM_SHA256_RSA_PKCS refuses CKM_RSA_PKCS and CKM_SHA384_RSA_PKCS with CKR_MECHANISM_INVALID and signs with its own",
        arguments: TokenFixtures.all)
    func limitedKey(fixture: any TokenFixture) throws {
        let (_, session) = try fixture.freshSession()
        let allowed = Attribute(
            .allowedMechanisms,
            bytes: withUnsafeBytes(of: MechanismType.sha256RSAPKCS.rawValue) { Array($0) })
        let (_, privateKey) = try PolicyTests.generate(session, rsa: true, label: "limited", flags: [allowed])
        for other in [MechanismType.rsaPKCS, .sha384RSAPKCS] {
            let refused = #expect(throws: PKCS11Error.self) {
                try session.signInit(Mechanism(other), key: privateKey)
                _ = try session.sign(Array("data".utf8))
            }
            #expect(refused?.returnValue == .mechanismInvalid, "\(other)")
        }
        try session.signInit(Mechanism(.sha256RSAPKCS), key: privateKey)
        #expect(try session.sign(Array("data".utf8)).count == 256)
    }
}
