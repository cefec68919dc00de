internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// The defaults a key gets when the template is silent, the same whichever function makes it.
@Suite("software token key defaults")
struct KeyDefaultsTests {
    static func flags(_ key: Object) throws -> [Bool?] {
        let values = try key.attributes([.sensitive, .extractable, .alwaysSensitive, .neverExtractable])
        return [
            values.bool(.sensitive), values.bool(.extractable), values.bool(.alwaysSensitive),
            values.bool(.neverExtractable),
        ]
    }

    @Test(
        "a secret key from C_CreateObject, C_GenerateKey or C_UnwrapKey is not sensitive unless asked (PKCS#11's default), extractable unless sensitive, and its value reads back only then"
    )
    func secretKeyDefaults() throws {
        let (_, session) = try SoftTokenRig.freshSession()
        let value = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let aes = [Attribute(.secretKey), Attribute(.aes), Attribute(.token, false)]
        let wrapper = try session.createObject(
            aes + [Attribute(.value, bytes: (0..<16).map { _ in UInt8.random(in: 0...255) })])
        let wrapped = try session.wrapKey(
            Mechanism(.aesKeyWrap), wrappingKey: wrapper,
            key: try session.createObject(aes + [Attribute(.value, bytes: value)]))
        typealias Maker = (String, ([Attribute]) throws -> Object, Bool)  // name, maker, generated
        let makers: [Maker] = [
            ("C_CreateObject", { try session.createObject(aes + [Attribute(.value, bytes: value)] + $0) }, false),
            (
                "C_GenerateKey",
                {
                    try session.generateKey(
                        Mechanism(.aesKeyGen), template: aes + [Attribute(.valueLen, ulong: 32)] + $0)
                },
                true
            ),
            (
                "C_UnwrapKey",
                {
                    try session.unwrapKey(
                        Mechanism(.aesKeyWrap), unwrappingKey: wrapper, wrapped: wrapped, template: aes + $0)
                }, false
            ),
        ]
        for (name, make, generated) in makers {
            let plain = try make([])
            #expect(try Self.flags(plain) == [false, true, false, false], "\(name), silent template")
            let read = try plain.attributes([.value])[.value]
            #expect(read?.count == 32, "\(name): the value of a plain key does not read back")
            if !generated { #expect(read == value, "\(name)") }
            let sensitive = try make([Attribute(.sensitive, true)])
            #expect(
                try Self.flags(sensitive) == [true, false, generated, generated], "\(name), CKA_SENSITIVE=TRUE")
            #expect(try sensitive.attributes([.value])[.value] == nil, "\(name): a sensitive key gave its value")
            let unextractable = try make([Attribute(.extractable, false)])
            #expect(
                try Self.flags(unextractable) == [false, false, false, generated], "\(name), CKA_EXTRACTABLE=FALSE")
            #expect(
                try unextractable.attributes([.value])[.value] == nil, "\(name): an unextractable key gave its value")
        }
    }

    @Test(
        "an EC private key may derive unless its template says not (SunPKCS11 generates with an empty template); RSA and Edwards keys may not"
    )
    func privateKeyDeriveDefault() throws {
        let (_, session) = try SoftTokenRig.freshSession()
        let p256: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        let ed25519: [UInt8] = [0x06, 0x03, 0x2B, 0x65, 0x70]
        let cases: [(String, Mechanism, [Attribute], [Attribute], Bool)] = [
            ("EC", Mechanism(.ecKeyPairGen), [Attribute(.ecParams, bytes: p256)], [], true),
            (
                "EC, CKA_DERIVE=FALSE", Mechanism(.ecKeyPairGen), [Attribute(.ecParams, bytes: p256)],
                [Attribute(.derive, false)], false
            ),
            ("RSA", Mechanism(.rsaPKCSKeyPairGen), [Attribute(.modulusBits, ulong: 2048)], [], false),
            ("Ed25519", Mechanism(.ecEdwardsKeyPairGen), [Attribute(.ecParams, bytes: ed25519)], [], false),
        ]
        for (name, mechanism, publicTemplate, privateTemplate, derives) in cases {
            let pair = try session.generateKeyPair(
                mechanism, publicTemplate: [Attribute(.token, false)] + publicTemplate,
                privateTemplate: [Attribute(.token, false)] + privateTemplate)
            let values = try pair.privateKey.attributes([.derive, .sensitive, .extractable])
            #expect(values.bool(.derive) == derives, "\(name)")
            #expect(
                values.bool(.sensitive) == true && values.bool(.extractable) == false,
                "\(name): private keys stay sensitive")
        }
    }
}
