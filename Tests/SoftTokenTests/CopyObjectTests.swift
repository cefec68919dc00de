internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// C_CopyObject on the software token: a copy may only hold a key more tightly than the
/// original (PKCS#11 v2.40 §5.7), and keeps its origin and approval.
@Suite("software token C_CopyObject")
struct CopyObjectTests {
    /// C_CopyObject through the raw function list.
    static func copy(_ session: Session, _ object: Object, _ template: [Attribute]) throws(PKCS11Error) -> Object {
        let functions = session.slot.module.functions.pointee
        var copied: CK_OBJECT_HANDLE = 0
        var rv: CK_RV = CKR_OK
        var values = template.map(\.value)
        values.withUnsafeMutableBufferPointer { buffers in
            var attributes: [CK_ATTRIBUTE] = []
            var storage: [UnsafeMutableRawBufferPointer] = []
            for (i, attribute) in template.enumerated() {
                let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(buffers[i].count, 1), alignment: 8)
                bytes.copyBytes(from: buffers[i])
                storage.append(bytes)
                attributes.append(
                    CK_ATTRIBUTE(
                        type: attribute.type.rawValue, pValue: bytes.baseAddress, ulValueLen: CK_ULONG(buffers[i].count)
                    ))
            }
            rv = functions.C_CopyObject!(
                session.handle, object.handle, &attributes, CK_ULONG(attributes.count), &copied)
            storage.forEach { $0.deallocate() }
        }
        guard rv == CKR_OK else {
            throw PKCS11Error(
                .returned(ReturnValue(rawValue: rv)), function: "C_CopyObject", reason: "C_CopyObject failed")
        }
        return Object(session: session, handle: copied)
    }

    static let origin: [AttributeType] = [
        .local, .alwaysSensitive, .neverExtractable, .keyGenMechanism, .sensitive, .extractable,
        .alwaysAuthenticate, .keyType, .valueLen,
    ]

    @Test(
        "a copy of a generated, non-extractable AES key stays sensitive and non-extractable, keeps its origin, encrypts alike; loosening is CKR_ATTRIBUTE_READ_ONLY"
    )
    func copyTightensOnly() throws {
        let (_, session) = try SoftTokenRig.freshSession()
        let key = try session.generateAESKey(
            bytes: 32,
            adding: [Attribute(.sensitive, true), Attribute(.encrypt, true), Attribute(.label, string: "original")])
        let copy = try Self.copy(session, key, [Attribute(.label, string: "copy"), Attribute(.token, true)])
        let before = try key.attributes(Self.origin)
        let after = try copy.attributes(Self.origin)
        for type in Self.origin { #expect(before.values[type] == after.values[type], "\(type) changed in the copy") }
        #expect(
            after.bool(.sensitive) == true && after.bool(.extractable) == false && after.bool(.neverExtractable) == true
        )
        let copied = try copy.attributes([.label, .token])
        #expect(copied.string(.label) == "copy" && copied.bool(.token) == true)
        #expect(try key.attributes([.label]).string(.label) == "original")

        // The copy is the same key: the same AES-ECB block.
        let block = [UInt8](repeating: 0x42, count: 16)
        func encrypt(_ object: Object) throws -> [UInt8] {
            let functions = session.slot.module.functions.pointee
            var mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_AES_ECB), pParameter: nil, ulParameterLen: 0)
            #expect(functions.C_EncryptInit!(session.handle, &mechanism, object.handle) == CKR_OK)
            var input = block
            var out = [UInt8](repeating: 0, count: 16)
            var length: CK_ULONG = 16
            #expect(functions.C_Encrypt!(session.handle, &input, 16, &out, &length) == CKR_OK)
            return out
        }
        #expect(try encrypt(copy) == encrypt(key))

        for loosening in [
            Attribute(.extractable, true), Attribute(.sensitive, false),
            Attribute(.copyable, true),  // the same: allowed
        ] {
            if loosening.type == .copyable {
                _ = try Self.copy(session, key, [loosening])
                continue
            }
            let refused = #expect(throws: PKCS11Error.self) { try Self.copy(session, key, [loosening]) }
            #expect(refused?.returnValue == .attributeReadOnly, "\(loosening.type)")
        }
        // An attribute an AES key cannot have: CKR_ATTRIBUTE_TYPE_INVALID.
        let invalid = #expect(throws: PKCS11Error.self) {
            try Self.copy(session, key, [Attribute(.modulus, bytes: [1, 2, 3])])
        }
        #expect(invalid?.returnValue == .attributeTypeInvalid)
        // Not copyable: CKR_ACTION_PROHIBITED.
        let sealed = try Self.copy(session, key, [Attribute(.copyable, false)])
        let prohibited = #expect(throws: PKCS11Error.self) { try Self.copy(session, sealed, []) }
        #expect(prohibited?.returnValue == .actionProhibited)
    }

    @Test(
        "a copy of an extractable key may become non-extractable (its NEVER_EXTRACTABLE stays false); a High key's copy keeps CKA_ALWAYS_AUTHENTICATE and its approval"
    )
    func copyOfExtractableAndHighKeys() throws {
        let (test, session) = try SoftTokenRig.freshSession()
        let loose = try session.generateAESKey(
            bytes: 16, adding: [Attribute(.extractable, true), Attribute(.sensitive, false)])
        let tight = try Self.copy(session, loose, [Attribute(.extractable, false), Attribute(.sensitive, true)])
        let flags = try tight.attributes([.extractable, .sensitive, .neverExtractable, .alwaysSensitive])
        #expect(flags.bool(.extractable) == false && flags.bool(.sensitive) == true)
        #expect(flags.bool(.neverExtractable) == false && flags.bool(.alwaysSensitive) == false)
        // Now it is sensitive: its value is not readable, on the copy only.
        #expect(try tight.attributes([.value]).values[.value] == nil)
        #expect(try loose.attributes([.value]).values[.value]?.count == 16)

        let approval = AttributeType.certBridgeApproval
        let high = try session.generateAESKey(
            bytes: 16, adding: [Attribute(.encrypt, true), Attribute(.alwaysAuthenticate, true)])
        let highCopy = try Self.copy(session, high, [])
        let copied = try highCopy.attributes([.alwaysAuthenticate, approval])
        #expect(copied.bool(.alwaysAuthenticate) == true)
        #expect(copied.values[approval] == (try high.attributes([approval]).values[approval]))
        let dropped = #expect(throws: PKCS11Error.self) {
            try Self.copy(session, high, [Attribute(.alwaysAuthenticate, false)])
        }
        #expect(dropped?.returnValue == .attributeReadOnly)
        // A token object from a read-only session is CKR_SESSION_READ_ONLY.
        let readOnly = try test.token().openSession(readWrite: false)
        let ro = #expect(throws: PKCS11Error.self) {
            try Self.copy(readOnly, Object(session: readOnly, handle: loose.handle), [Attribute(.token, true)])
        }
        #expect(ro?.returnValue == .sessionReadOnly)
    }
}
