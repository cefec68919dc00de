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
        var objectClass = CK_ULONG(CKO_DATA)
        for length in [0, 2] {
            var flag: [UInt8] = [0, 0]
            var handle: CK_OBJECT_HANDLE = 0
            let rv = withUnsafeMutableBytes(of: &objectClass) { classBytes in
                flag.withUnsafeMutableBytes { flagBytes in
                    var template = [
                        CK_ATTRIBUTE(
                            type: CK_ATTRIBUTE_TYPE(CKA_CLASS), pValue: classBytes.baseAddress,
                            ulValueLen: CK_ULONG(classBytes.count)),
                        CK_ATTRIBUTE(
                            type: CK_ATTRIBUTE_TYPE(CKA_TOKEN), pValue: flagBytes.baseAddress,
                            ulValueLen: CK_ULONG(length)),
                    ]
                    return f.C_CreateObject!(session.handle, &template, 2, &handle)
                }
            }
            #expect(rv == CKR_ATTRIBUTE_VALUE_INVALID, "CKA_TOKEN of \(length) bytes")
        }
        let key = try session.generateAESKey(bytes: 16)
        #expect(f.C_SignInit!(session.handle, nil, key.handle) == CKR_ARGUMENTS_BAD)
        #expect(f.C_EncryptInit!(session.handle, nil, key.handle) == CKR_ARGUMENTS_BAD)
        #expect(f.C_DigestInit!(session.handle, nil) == CKR_ARGUMENTS_BAD)
    }
}
