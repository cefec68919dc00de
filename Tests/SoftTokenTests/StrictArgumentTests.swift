internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// PKCS#11 2.40 §4.1 and §5.2 argument rules, as SoftHSM2 answers them.
@Suite("strict arguments on every token")
struct StrictArgumentTests {
    @Test(
        "a CK_BBOOL attribute of length 2 or 0 is CKR_ATTRIBUTE_VALUE_INVALID; a NULL mechanism is CKR_ARGUMENTS_BAD",
        arguments: TokenFixtures.all)
    func strict(fixture: any TokenFixture) throws {
        let (_, session) = try fixture.freshSession()
        let f = session.slot.module.functions.pointee
        for length in [0, 2] {
            let template = RawTemplate().add(CKA_CLASS, ulong: CKO_DATA).add(CKA_TOKEN, bytes: [0, 0], length: length)
            var handle: CK_OBJECT_HANDLE = 0
            let rv = template.withAttributes { f.C_CreateObject!(session.handle, $0, $1, &handle) }
            #expect(rv == CKR_ATTRIBUTE_VALUE_INVALID, "CKA_TOKEN of \(length) bytes")
        }
        let key = try session.generateAESKey(bytes: 16)
        #expect(f.C_SignInit!(session.handle, nil, key.handle) == CKR_ARGUMENTS_BAD)
        #expect(f.C_EncryptInit!(session.handle, nil, key.handle) == CKR_ARGUMENTS_BAD)
        #expect(f.C_DigestInit!(session.handle, nil) == CKR_ARGUMENTS_BAD)
    }
}
