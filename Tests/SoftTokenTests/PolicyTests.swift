internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// Key policy as the token itself enforces it, through the PKCS11 layer: sensitive and
/// extractable keys, always-authenticate, CKA_ALLOWED_MECHANISMS, CKA_TRUSTED. The same tests run on
/// SoftHSM2 and on CertBridge's software token: whatever SoftHSM2 refuses, ours must refuse with
/// the same CK_RV.
@Suite("key policy on every token")
struct PolicyTests {
    /// A key pair generated on the token (C_GenerateKeyPair), token objects, with the private
    /// template's flags as given.
    static func generate(_ session: Session, rsa: Bool = false, label: String = "k", flags: [Attribute]) throws -> (
        publicKey: Object, privateKey: Object
    ) {
        let mechanism = Mechanism(rsa ? .rsaPKCSKeyPairGen : .ecKeyPairGen)
        let publicTemplate =
            rsa
            ? [
                Attribute(.token, true), Attribute(.verify, true), Attribute(.modulusBits, ulong: 2048),
                Attribute(.publicExponent, bytes: [1, 0, 1]),
            ]
            : [
                Attribute(.token, true), Attribute(.verify, true),
                Attribute(.ecParams, bytes: TestKeyType.p256.curveOID),
            ]
        return try session.generateKeyPair(
            mechanism, publicTemplate: publicTemplate + [Attribute(.label, string: label)],
            privateTemplate: [
                Attribute(.token, true), Attribute(.private, true), Attribute(.sign, true),
                Attribute(.label, string: label),
            ] + flags)
    }

    /// One attribute read on its own with C_GetAttributeValue, for the CK_RV the token gives it
    /// (the PKCS11 layer's reads tolerate CKR_ATTRIBUTE_SENSITIVE; here it is the point).
    static func readReturnValue(_ type: AttributeType, of object: Object) -> ReturnValue {
        var template = [CK_ATTRIBUTE(type: type.rawValue, pValue: nil, ulValueLen: 0)]
        let functions = object.session.slot.module.functions.pointee
        let rv =
            functions.C_GetAttributeValue?(object.session.handle, object.handle, &template, 1)
            ?? ReturnValue.functionNotSupported.rawValue
        return ReturnValue(rawValue: rv)
    }

    @Test(
        "a sensitive private key's private components read as CKR_ATTRIBUTE_SENSITIVE, its public ones as values",
        arguments: TokenFixtures.all)
    func sensitiveComponents(fixture: any TokenFixture) throws {
        let (_, session) = try fixture.freshSession()
        // Extractable, so only CKA_SENSITIVE stands between the caller and the values.
        let flags = [Attribute(.sensitive, true), Attribute(.extractable, true)]
        let (_, rsa) = try Self.generate(session, rsa: true, label: "rsa", flags: flags)
        for type in [AttributeType.privateExponent, .prime1, .prime2, .exponent1, .exponent2, .coefficient] {
            #expect(Self.readReturnValue(type, of: rsa) == .attributeSensitive, "\(type) of a sensitive RSA key")
        }
        #expect(Self.readReturnValue(.modulus, of: rsa) == .ok)
        #expect(try rsa.attributes([.modulus])[.modulus]?.count == 256)

        let (_, ec) = try Self.generate(session, label: "ec", flags: flags)
        #expect(Self.readReturnValue(.value, of: ec) == .attributeSensitive, "CKA_VALUE of a sensitive EC key")
        #expect(Self.readReturnValue(.ecParams, of: ec) == .ok)
    }

    @Test(
        "C_WrapKey refuses a non-extractable key with CKR_KEY_UNEXTRACTABLE and wraps an extractable one",
        arguments: TokenFixtures.all)
    func wrapOnlyExtractable(fixture: any TokenFixture) throws {
        let (_, session) = try fixture.freshSession()
        let wrappingKey = try session.generateAESKey(bytes: 32, adding: [Attribute(.wrap, true)])
        let (_, closed) = try Self.generate(
            session, label: "closed", flags: [Attribute(.sensitive, true), Attribute(.extractable, false)])
        let refused = #expect(throws: PKCS11Error.self) {
            try session.wrapKey(Mechanism(.aesKeyWrapPad), wrappingKey: wrappingKey, key: closed)
        }
        #expect(refused?.returnValue == .keyUnextractable)

        let (_, open) = try Self.generate(
            session, label: "open", flags: [Attribute(.sensitive, true), Attribute(.extractable, true)])
        // A wrapped P-256 PKCS#8 is well over 64 bytes; the wrap really happened.
        #expect(try session.wrapKey(Mechanism(.aesKeyWrapPad), wrappingKey: wrappingKey, key: open).count > 64)
    }

    @Test(
        "an always-authenticate key signs only after SignInit, Login(CONTEXT_SPECIFIC), Sign: one signature per login",
        arguments: TokenFixtures.all, [false, true])
    func alwaysAuthenticate(fixture: any TokenFixture, rsa: Bool) throws {
        let (test, session) = try fixture.freshSession()
        let (publicKey, privateKey) = try Self.generate(
            session, rsa: rsa, label: "high",
            flags: [Attribute(.sensitive, true), Attribute(.extractable, false), Attribute(.alwaysAuthenticate, true)])
        // SoftHSM2 has no CKM_ECDSA_SHA256: EC signs a digest with CKM_ECDSA.
        let mechanism = Mechanism(rsa ? .sha256RSAPKCS : .ecdsa)
        let data = rsa ? Array("one signature, one login".utf8) : [UInt8](repeating: 0x5A, count: 32)

        // The user login alone is not enough.
        try session.signInit(mechanism, key: privateKey)
        let refused = #expect(throws: PKCS11Error.self) { try session.sign(data) }
        #expect(refused?.returnValue == .userNotLoggedIn)

        try session.signInit(mechanism, key: privateKey)
        try session.login(.contextSpecific, pin: test.pin)
        let signature = try session.sign(data)
        #expect(try session.verify(mechanism, key: publicKey, data: data, signature: signature))

        // That login was spent on that signature.
        try session.signInit(mechanism, key: privateKey)
        let again = #expect(throws: PKCS11Error.self) { try session.sign(data) }
        #expect(again?.returnValue == .userNotLoggedIn)
    }

    @Test(
        "flags only tighten: SENSITIVE true→false and EXTRACTABLE false→true are CKR_ATTRIBUTE_READ_ONLY; false→true and true→false work",
        arguments: TokenFixtures.all)
    func flagsOnlyTighten(fixture: any TokenFixture) throws {
        let (_, session) = try fixture.freshSession()
        let (_, strict) = try Self.generate(
            session, label: "strict", flags: [Attribute(.sensitive, true), Attribute(.extractable, false)])
        for loosening in [Attribute(.sensitive, false), Attribute(.extractable, true)] {
            let error = #expect(throws: PKCS11Error.self) { try session.setAttributes([loosening], of: strict) }
            #expect(error?.returnValue == .attributeReadOnly, "\(loosening.type) loosened")
        }
        let strictValues = try strict.attributes([.sensitive, .extractable])
        #expect(strictValues.bool(.sensitive) == true && strictValues.bool(.extractable) == false)

        let (_, loose) = try Self.generate(
            session, label: "loose", flags: [Attribute(.sensitive, false), Attribute(.extractable, true)])
        try session.setAttributes([Attribute(.sensitive, true)], of: loose)
        try session.setAttributes([Attribute(.extractable, false)], of: loose)
        let tightened = try loose.attributes([.sensitive, .extractable, .alwaysSensitive, .neverExtractable])
        #expect(tightened.bool(.sensitive) == true)
        #expect(tightened.bool(.extractable) == false)
        // Tightened late is not "always" or "never": the key was once readable.
        #expect(tightened.bool(.alwaysSensitive) == false)
        #expect(tightened.bool(.neverExtractable) == false)
        for loosening in [Attribute(.sensitive, false), Attribute(.extractable, true)] {
            let error = #expect(throws: PKCS11Error.self) { try session.setAttributes([loosening], of: loose) }
            #expect(error?.returnValue == .attributeReadOnly, "\(loosening.type) loosened after tightening")
        }
    }

    @Test(
        "ALWAYS_SENSITIVE, NEVER_EXTRACTABLE and LOCAL are true for a generated non-extractable key, false for an imported one",
        arguments: TokenFixtures.all)
    func originFlags(fixture: any TokenFixture) throws {
        let (_, session) = try fixture.freshSession()
        let origin: [AttributeType] = [.alwaysSensitive, .neverExtractable, .local]
        let (_, generated) = try Self.generate(
            session, label: "generated", flags: [Attribute(.sensitive, true), Attribute(.extractable, false)])
        let made = try generated.attributes(origin)
        for type in origin { #expect(made.bool(type) == true, "\(type) of a generated key") }

        let dir = try TemporaryDirectory()
        let rsa = try RSAComponents.generate(in: dir)
        let imported = try session.createObject(
            rsa.privateTemplate(
                label: "imported", id: [9],
                extraFlags: [Attribute(.sensitive, true), Attribute(.extractable, false)]))
        let brought = try imported.attributes(origin + [.sensitive, .extractable])
        for type in origin { #expect(brought.bool(type) == false, "\(type) of an imported key") }
        #expect(brought.bool(.sensitive) == true && brought.bool(.extractable) == false)
    }

    // CKA_ALLOWED_MECHANISMS limits what a key does: any other mechanism is CKR_MECHANISM_INVALID.
    @Test(
        "a key limited to CKM_SHA256_RSA_PKCS refuses CKM_RSA_PKCS and CKM_SHA384_RSA_PKCS with CKR_MECHANISM_INVALID and signs with its own",
        arguments: TokenFixtures.all)
    func limitedKey(fixture: any TokenFixture) throws {
        let (_, session) = try fixture.freshSession()
        let allowed = Attribute(
            .allowedMechanisms,
            bytes: withUnsafeBytes(of: MechanismType.sha256RSAPKCS.rawValue) { Array($0) })
        let (_, privateKey) = try Self.generate(session, rsa: true, label: "limited", flags: [allowed])
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

    // CKA_TRUSTED is the SO's alone: a user who could mark a key of their own trusted could
    // wrap out a key marked CKA_WRAP_WITH_TRUSTED with it.
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
