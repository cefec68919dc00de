import Foundation
import TestSupport
import Testing

@testable import PKCS11

@Suite("PKCS11 layer against SoftHSM2")
struct SoftHSMTests {
    @Test("loads a module once per process and reads its info")
    func moduleInfo() throws {
        let module = try SoftHSM.module()
        #expect(try Module.load(path: SoftHSM.modulePath) === module)
        let info = try module.info()
        #expect(info.manufacturer == "SoftHSM")
        #expect(info.cryptokiVersion.hasPrefix("2."))
    }

    @Test("a library that is not there is a clear error")
    func missingModule() {
        #expect(throws: PKCS11Error(.moduleNotLoadable, reason: "")) {
            try Module.load(path: "/nonexistent/libnothing.so")
        }
        #expect(throws: PKCS11Error(.moduleNotLoadable, reason: "")) {
            try Module.load(path: "/usr/lib/x86_64-linux-gnu/libz.so.1")
        }
    }

    @Test("a fresh token reports its label and PIN flags")
    func tokenInfo() throws {
        let test = try SoftHSM.freshToken()
        let info = try test.token().info
        #expect(info.label == test.label)
        #expect(info.model == "SoftHSM v2")
        #expect(info.flags.contains([.tokenInitialized, .userPINInitialized, .loginRequired]))
        #expect(!info.flags.contains(.userPINLocked))
    }

    @Test("a wrong PIN names C_Login and CKR_PIN_INCORRECT, and the session stays usable")
    func wrongPIN() throws {
        let test = try SoftHSM.freshToken()
        let session = try test.token().openSession()
        let error = #expect(throws: PKCS11Error.self) { try session.login(.user, pin: PIN(bytes: Array("9999".utf8))) }
        #expect(error?.returnValue == .pinIncorrect)
        #expect(error?.description == "C_Login: CKR_PIN_INCORRECT (0xA0)")
        try session.login(.user, pin: test.pin)
        #expect(try session.state().isUserLoggedIn)
    }

    @Test("generated keys read back with every flag; sensitive values are left out, not an error")
    func generatedKeyFlags() throws {
        let (_, session) = try SoftHSM.freshSession()
        let (_, priv) = try session.generateKeyPair(
            Mechanism(.ecKeyPairGen),
            publicTemplate: [Attribute(.token, true), Attribute(.ecParams, bytes: p256OID), Attribute(.verify, true)],
            privateTemplate: [
                Attribute(.token, true), Attribute(.private, true), Attribute(.sign, true),
                Attribute(.sensitive, true), Attribute(.extractable, false), Attribute(.label, string: "gen"),
            ])
        let values = try priv.attributes([
            .class, .keyType, .label, .sensitive, .extractable, .local,
            .neverExtractable, .alwaysSensitive, .alwaysAuthenticate, .value,
        ])
        #expect(values.objectClass == .privateKey)
        #expect(values.keyType == .ec)
        #expect(values.label == "gen")
        #expect(values.bool(.sensitive) == true)
        #expect(values.bool(.extractable) == false)
        #expect(values.bool(.local) == true)
        #expect(values.bool(.neverExtractable) == true)
        #expect(values.bool(.alwaysSensitive) == true)
        #expect(values.bool(.alwaysAuthenticate) == false)
        #expect(values[.value] == nil, "CKA_VALUE of a sensitive key must not be readable")
    }

    @Test("imported keys keep the flags chosen, and only tighten", arguments: [false, true])
    func importedKeyFlags(extractable: Bool) throws {
        let test = try SoftHSM.freshToken()
        let dir = try TemporaryDirectory()
        let key = try RSAComponents.generate(in: dir)
        let session = try test.userSession()
        let priv = try session.createObject(
            key.privateTemplate(
                label: "imp", id: [1],
                extraFlags: [Attribute(.sensitive, true), Attribute(.extractable, extractable)]))
        let values = try priv.attributes([
            .extractable, .sensitive, .local, .neverExtractable, .modulus, .privateExponent,
        ])
        #expect(values.bool(.extractable) == extractable)
        #expect(values.bool(.local) == false)
        // The key existed outside the token, so the token cannot vouch it was never extractable.
        #expect(values.bool(.neverExtractable) == false)
        #expect(values[.modulus] == key.modulus)
        #expect(values[.privateExponent] == nil)
        // Flags only tighten: back to non-sensitive is refused by the token.
        let error = #expect(throws: PKCS11Error.self) {
            try session.setAttributes([Attribute(.sensitive, false)], of: priv)
        }
        #expect(error?.returnValue == .attributeReadOnly)
    }

    @Test("an always-authenticate key needs a context login for each signature")
    func alwaysAuthenticate() throws {
        let (test, session) = try SoftHSM.freshSession()
        let (_, priv) = try session.generateKeyPair(
            Mechanism(.ecKeyPairGen),
            publicTemplate: [Attribute(.ecParams, bytes: p256OID), Attribute(.verify, true)],
            privateTemplate: [
                Attribute(.sign, true), Attribute(.sensitive, true), Attribute(.alwaysAuthenticate, true),
            ])
        let digest = [UInt8](repeating: 7, count: 32)
        try session.signInit(Mechanism(.ecdsa), key: priv)
        let refused = #expect(throws: PKCS11Error.self) { try session.sign(digest) }
        #expect(refused?.returnValue == .userNotLoggedIn)
        try session.signInit(Mechanism(.ecdsa), key: priv)
        try session.login(.contextSpecific, pin: test.pin)
        #expect(try session.sign(digest).count == 64)
    }

    @Test("a non-extractable key cannot be wrapped; an extractable one can")
    func wrapping() throws {
        let (_, session) = try SoftHSM.freshSession()
        let wrapKey = try session.generateAESKey(bytes: 32, adding: [Attribute(.wrap, true)])
        for extractable in [false, true] {
            let (_, priv) = try session.generateKeyPair(
                Mechanism(.ecKeyPairGen),
                publicTemplate: [Attribute(.ecParams, bytes: p256OID)],
                privateTemplate: [
                    Attribute(.sign, true), Attribute(.sensitive, true), Attribute(.extractable, extractable),
                ])
            if extractable {
                #expect(try session.wrapKey(Mechanism(.aesKeyWrapPad), wrappingKey: wrapKey, key: priv).count > 64)
            } else {
                let error = #expect(throws: PKCS11Error.self) {
                    try session.wrapKey(Mechanism(.aesKeyWrapPad), wrappingKey: wrapKey, key: priv)
                }
                #expect(error?.returnValue == .keyUnextractable)
            }
        }
    }

    @Test("findObject says when there is none or more than one")
    func findOne() throws {
        let (_, session) = try SoftHSM.freshSession()
        for _ in 0..<2 {
            _ = try session.createObject([
                Attribute(.data), Attribute(.token, true), Attribute(.label, string: "twin"),
                Attribute(.value, bytes: [1]),
            ])
        }
        #expect(throws: PKCS11Error(.moreThanOne, reason: "")) {
            try session.findObject([Attribute(.label, string: "twin")], what: "twin")
        }
        #expect(throws: PKCS11Error(.noSuchObject, reason: "")) {
            try session.findObject([Attribute(.label, string: "none")], what: "none")
        }
        #expect(try session.findObjects([Attribute(.data)]).count == 2)
    }
}

/// DER of the P-256 curve OID, CKA_EC_PARAMS.
let p256OID: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
