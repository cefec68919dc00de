import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// CKA_TRUSTED is the SO's alone: a user who could mark a key of their own trusted could
/// wrap out a key marked CKA_WRAP_WITH_TRUSTED with it.
@Suite("CKA_TRUSTED on the software token")
struct TrustedAttributeTests {
    @Test(
        "a user's C_CreateObject, C_GenerateKey or C_SetAttributeValue with CKA_TRUSTED=TRUE is CKR_ATTRIBUTE_READ_ONLY; a wrap-with-trusted key does not leave under an untrusted key",
        arguments: TokenFixtures.all)
    func userCannotSetTrusted(fixture: any TokenFixture) throws {
        let (_, session) = try fixture.freshSession()
        let value = [UInt8](repeating: 7, count: 32)
        let created = #expect(throws: PKCS11Error.self) {
            try session.createObject([
                Attribute(.secretKey), Attribute(.aes), Attribute(.token, false), Attribute(.value, bytes: value),
                Attribute(.wrap, true), Attribute(.trusted, true),
            ])
        }
        #expect(created?.returnValue == .attributeReadOnly)
        let generated = #expect(throws: PKCS11Error.self) {
            try session.generateAESKey(bytes: 32, adding: [Attribute(.wrap, true), Attribute(.trusted, true)])
        }
        #expect(generated?.returnValue == .attributeReadOnly)
        let wrapper = try session.generateAESKey(bytes: 32, adding: [Attribute(.wrap, true)])
        let set = #expect(throws: PKCS11Error.self) {
            try session.setAttributes([Attribute(.trusted, true)], of: wrapper)
        }
        #expect(set?.returnValue == .attributeReadOnly)
        let target = try session.generateAESKey(
            bytes: 16, adding: [Attribute(.extractable, true), Attribute(.wrapWithTrusted, true)])
        let wrapped = #expect(throws: PKCS11Error.self) {
            try session.wrapKey(Mechanism(.aesKeyWrapPad), wrappingKey: wrapper, key: target)
        }
        #expect(wrapped?.returnValue == .keyNotWrappable)
    }
}
