internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// C_WrapKey and C_UnwrapKey on the software token, each mechanism checked against OpenSSL's
/// own answer for the same key and input: AES key wrap against `openssl enc -id-aesNNN-wrap`
/// (RFC 3394) and `-wrap-pad` (RFC 5649), RSA wrapping against `openssl pkeyutl`.
@Suite("software token key wrapping against OpenSSL")
struct WrapTests {
    static func random(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

    static func secretKey(_ session: Session, _ value: [UInt8], type: KeyType = .aes, _ extra: [Attribute] = []) throws
        -> Object
    {
        try session.createObject(
            [
                Attribute(.secretKey), Attribute(type), Attribute(.token, false), Attribute(.value, bytes: value),
                Attribute(.extractable, true), Attribute(.sensitive, false),
            ] + extra)
    }

    /// `openssl enc` with an AES key wrap cipher; the output bytes.
    static func opensslWrap(
        pad: Bool, key: [UInt8], iv: [UInt8], input: [UInt8], unwrap: Bool = false, dir: TemporaryDirectory
    ) throws -> [UInt8] {
        let file = dir.file("wrap-in-\(UInt32.random(in: 0...UInt32.max))")
        try Data(input).write(to: URL(fileURLWithPath: file))
        let cipher = "-id-aes\(key.count * 8)-wrap" + (pad ? "-pad" : "")
        let result = try run(
            "openssl", ["enc", cipher, unwrap ? "-d" : "-e", "-K", hexString(key), "-iv", hexString(iv), "-in", file])
        guard result.status == 0 else { throw TestSupportError("openssl enc \(cipher): \(result.stderr)") }
        return Array(result.stdoutData)
    }

    static func value(_ object: Object) throws -> [UInt8]? { try object.attributes([.value]).values[.value] }

    @Test(
        "CKM_AES_KEY_WRAP (RFC 3394) and CKM_AES_KEY_WRAP_PAD (RFC 5649): wrapped bytes equal openssl enc's, default and own IV; openssl's unwrap on the token",
        arguments: [16, 24, 32])
    func aesKeyWrap(wrapKeySize: Int) throws {
        let dir = try TemporaryDirectory()
        let (_, session) = try SoftTokenRig.freshSession()
        let kek = Self.random(wrapKeySize)
        let wrapper = try Self.secretKey(session, kek, [Attribute(.wrap, true), Attribute(.unwrap, true)])
        let cases: [(pad: Bool, type: KeyType, size: Int, iv: [UInt8]?, defaultIV: [UInt8])] = [
            (false, .aes, 32, nil, hexBytes("A6A6A6A6A6A6A6A6")),
            (false, .aes, 16, hexBytes("0011223344556677"), hexBytes("0011223344556677")),
            (false, .genericSecret, 40, nil, hexBytes("A6A6A6A6A6A6A6A6")),
            (true, .genericSecret, 21, nil, hexBytes("A65959A6")),
            (true, .aes, 24, hexBytes("01020304"), hexBytes("01020304")),
        ]
        for c in cases {
            let secret = Self.random(c.size)
            let target = try Self.secretKey(session, secret, type: c.type)
            let mechanism = Mechanism(c.pad ? .aesKeyWrapPad : .aesKeyWrap, parameter: c.iv ?? [])
            let wrapped = try session.wrapKey(mechanism, wrappingKey: wrapper, key: target)
            let expected = try Self.opensslWrap(pad: c.pad, key: kek, iv: c.defaultIV, input: secret, dir: dir)
            #expect(wrapped == expected, "\(mechanism) of \(c.size) bytes differs from openssl enc")
            #expect(
                try Self.opensslWrap(pad: c.pad, key: kek, iv: c.defaultIV, input: wrapped, unwrap: true, dir: dir)
                    == secret)

            let other = Self.random(c.size)
            let sealed = try Self.opensslWrap(pad: c.pad, key: kek, iv: c.defaultIV, input: other, dir: dir)
            let unwrapped = try session.unwrapKey(
                mechanism, unwrappingKey: wrapper, wrapped: sealed,
                template: [
                    Attribute(.secretKey), Attribute(c.type), Attribute(.token, false), Attribute(.extractable, true),
                    Attribute(.sensitive, false),
                ])
            #expect(try Self.value(unwrapped) == other)
            let flags = try unwrapped.attributes([.local, .alwaysSensitive, .neverExtractable, .valueLen])
            #expect(
                flags.bool(.local) == false && flags.bool(.alwaysSensitive) == false
                    && flags.bool(.neverExtractable) == false)
            #expect(flags.ulong(.valueLen) == UInt(c.size))

            // A changed byte is CKR_WRAPPED_KEY_INVALID: the integrity check is real.
            var damaged = sealed
            damaged[damaged.count - 1] ^= 1
            let refused = #expect(throws: PKCS11Error.self) {
                try session.unwrapKey(
                    mechanism, unwrappingKey: wrapper, wrapped: damaged,
                    template: [Attribute(.secretKey), Attribute(c.type), Attribute(.token, false)])
            }
            #expect(refused?.returnValue == .wrappedKeyInvalid)
        }
        // RFC 3394 takes whole 8-byte blocks.
        let odd = try Self.secretKey(session, Self.random(20), type: .genericSecret)
        let unaligned = #expect(throws: PKCS11Error.self) {
            try session.wrapKey(Mechanism(.aesKeyWrap), wrappingKey: wrapper, key: odd)
        }
        #expect(unaligned?.returnValue == .keySizeRange)
    }

    @Test(
        "CKM_AES_KEY_WRAP of a private key: openssl unwraps a zero-padded PKCS#8 of the same key, and the token unwraps it back into a key that signs"
    )
    func aesKeyWrapPrivateKey() throws {
        let dir = try TemporaryDirectory()
        let (_, session) = try SoftTokenRig.freshSession()
        let kek = Self.random(32)
        let wrapper = try Self.secretKey(session, kek, [Attribute(.wrap, true), Attribute(.unwrap, true)])
        let ec = try ECComponents.generate(in: dir)
        let key = try session.createObject([
            Attribute(.privateKey), Attribute(.ec), Attribute(.token, false),
            Attribute(.ecParams, bytes: ec.parameters),
            Attribute(.value, bytes: ec.privateValue), Attribute(.extractable, true), Attribute(.sign, true),
        ])
        let wrapped = try session.wrapKey(Mechanism(.aesKeyWrap), wrappingKey: wrapper, key: key)
        let plain = try Self.opensslWrap(
            pad: false, key: kek, iv: hexBytes("A6A6A6A6A6A6A6A6"), input: wrapped, unwrap: true, dir: dir)
        let der = dir.file("unwrapped.der")
        try Data(plain).write(to: URL(fileURLWithPath: der))
        // openssl reads the DER and ignores the zero padding after it: the same private scalar.
        let text = try run("openssl", ["pkey", "-inform", "DER", "-in", der, "-noout", "-text"])
        #expect(text.status == 0, "\(text.stderr)")
        let original = try run("openssl", ["pkey", "-in", try dir.write("ec.pem", ec.pem), "-noout", "-text"])
        #expect(text.stdout == original.stdout)

        let back = try session.unwrapKey(
            Mechanism(.aesKeyWrap), unwrappingKey: wrapper, wrapped: wrapped,
            template: [
                Attribute(.privateKey), Attribute(.ec), Attribute(.token, false), Attribute(.sign, true),
            ])
        #expect(try back.attributes([.ecParams]).values[.ecParams] == ec.parameters)
        let digest = Self.random(32)
        try session.signInit(Mechanism(.ecdsa), key: back)
        let signature = try session.sign(digest)
        #expect(signature.count == 64)
    }

    @Test(
        "RSA PKCS#1 v1.5 and OAEP wrap a secret key so that openssl pkeyutl opens it, and unwrap what openssl pkeyutl sealed",
        arguments: [false, true])
    func rsaWrap(oaep: Bool) throws {
        let dir = try TemporaryDirectory()
        let components = try RSAComponents.generate(bits: 2048, in: dir)
        let pem = try dir.write("key.pem", components.pem)
        let (_, session) = try SoftTokenRig.freshSession()
        let privateKey = try session.createObject(
            components.privateTemplate(label: "rsa", id: [1], extraFlags: [Attribute(.unwrap, true)]))
        let publicKey = try session.createObject(
            components.publicTemplate(label: "rsa", id: [1]) + [Attribute(.wrap, true)])
        let mechanism =
            oaep
            ? Mechanism(
                .rsaPKCSOAEP,
                parameter: ulongBytes([MechanismType.sha256.rawValue, MaskGeneration.mgf1SHA256.rawValue, 1, 0, 0]))
            : Mechanism(.rsaPKCS)
        let options =
            ["-pkeyopt", "rsa_padding_mode:\(oaep ? "oaep" : "pkcs1")"]
            + (oaep ? ["-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"] : [])
        let secret = Self.random(32)
        let target = try Self.secretKey(session, secret)
        let wrapped = try session.wrapKey(mechanism, wrappingKey: publicKey, key: target)
        #expect(wrapped.count == 256)
        let wrappedFile = dir.file("wrapped.bin")
        try Data(wrapped).write(to: URL(fileURLWithPath: wrappedFile))
        let opened = try run("openssl", ["pkeyutl", "-decrypt", "-inkey", pem, "-in", wrappedFile] + options)
        #expect(opened.status == 0, "\(opened.stderr)")
        #expect(Array(opened.stdoutData) == secret)

        let other = Self.random(24)
        let plainFile = dir.file("plain.bin")
        try Data(other).write(to: URL(fileURLWithPath: plainFile))
        let sealed = try run("openssl", ["pkeyutl", "-encrypt", "-inkey", pem, "-in", plainFile] + options)
        #expect(sealed.status == 0, "\(sealed.stderr)")
        let unwrapped = try session.unwrapKey(
            mechanism, unwrappingKey: privateKey, wrapped: Array(sealed.stdoutData),
            template: [
                Attribute(.secretKey), Attribute(.aes), Attribute(.token, false), Attribute(.extractable, true),
                Attribute(.sensitive, false),
                Attribute(.valueLen, ulong: 24),
            ])
        #expect(try Self.value(unwrapped) == other)
        // A CKA_VALUE_LEN that is not the unwrapped length is inconsistent.
        let wrongLength = #expect(throws: PKCS11Error.self) {
            try session.unwrapKey(
                mechanism, unwrappingKey: privateKey, wrapped: Array(sealed.stdoutData),
                template: [
                    Attribute(.secretKey), Attribute(.aes), Attribute(.token, false), Attribute(.valueLen, ulong: 32),
                ])
        }
        #expect(wrongLength?.returnValue == .templateInconsistent)
        // RSA wraps secret keys only; a private key is CKR_KEY_NOT_WRAPPABLE.
        let ec = try ECComponents.generate(in: dir)
        let ecKey = try session.createObject([
            Attribute(.privateKey), Attribute(.ec), Attribute(.token, false),
            Attribute(.ecParams, bytes: ec.parameters),
            Attribute(.value, bytes: ec.privateValue), Attribute(.extractable, true),
        ])
        let notWrappable = #expect(throws: PKCS11Error.self) {
            try session.wrapKey(mechanism, wrappingKey: publicKey, key: ecKey)
        }
        #expect(notWrappable?.returnValue == .keyNotWrappable)
        // A public key without CKA_WRAP does not wrap.
        let plainPublic = try session.createObject(components.publicTemplate(label: "rsa2", id: [2]))
        let notPermitted = #expect(throws: PKCS11Error.self) {
            try session.wrapKey(mechanism, wrappingKey: plainPublic, key: target)
        }
        #expect(notPermitted?.returnValue == .keyFunctionNotPermitted)
    }

    @Test(
        "CKA_WRAP_WITH_TRUSTED: a key leaves under the SO's CKA_TRUSTED RSA public key, not under the user's untrusted one"
    )
    func wrapWithTrusted() throws {
        let dir = try TemporaryDirectory()
        let components = try RSAComponents.generate(bits: 2048, in: dir)
        let pem = try dir.write("key.pem", components.pem)
        let test = try SoftTokenRig.freshToken()
        do {
            // The SO's session closes at the end of this scope.
            let so = try test.token().openSession(readWrite: true)
            try so.login(.securityOfficer, pin: PIN(bytes: Array(test.soPIN.utf8)))
            _ = try so.createObject(
                components.publicTemplate(label: "trusted", id: [9]) + [
                    Attribute(.wrap, true), Attribute(.trusted, true),
                ])
            try so.logout()
        }
        let session = try test.userSession()
        let trusted = try session.findObject(
            [Attribute(.publicKey), Attribute(.label, string: "trusted")], what: "trusted key")
        #expect(try trusted.attributes([.trusted]).bool(.trusted) == true)
        let untrusted = try session.createObject(
            components.publicTemplate(label: "mine", id: [8]) + [Attribute(.wrap, true)])
        let secret = Self.random(32)
        let target = try Self.secretKey(session, secret, [Attribute(.wrapWithTrusted, true)])
        let refused = #expect(throws: PKCS11Error.self) {
            try session.wrapKey(Mechanism(.rsaPKCS), wrappingKey: untrusted, key: target)
        }
        #expect(refused?.returnValue == .keyNotWrappable)
        let wrapped = try session.wrapKey(Mechanism(.rsaPKCS), wrappingKey: trusted, key: target)
        let file = dir.file("wrapped.bin")
        try Data(wrapped).write(to: URL(fileURLWithPath: file))
        let opened = try run("openssl", ["pkeyutl", "-decrypt", "-inkey", pem, "-in", file])
        #expect(Array(opened.stdoutData) == secret)
    }

    @Test(
        "CKA_WRAP_TEMPLATE: only matching keys are wrapped; CKA_UNWRAP_TEMPLATE: the unwrapped key gets it, a conflicting template is CKR_TEMPLATE_INCONSISTENT; both read back"
    )
    func wrapAndUnwrapTemplates() throws {
        let (_, session) = try SoftTokenRig.freshSession()
        let raw = CipherTests.Raw(session)
        let kek = Self.random(32)
        let wrapper = try raw.createKey(
            kek, wrapTemplate: RawTemplate().add(CKA_KEY_TYPE, ulong: CKK_AES),
            unwrapTemplate: RawTemplate().add(CKA_SENSITIVE, bool: true).add(CKA_EXTRACTABLE, bool: false))
        let wrapKey = Object(session: session, handle: wrapper)
        let matching = try Self.secretKey(session, Self.random(16))
        let wrapped = try session.wrapKey(Mechanism(.aesKeyWrap), wrappingKey: wrapKey, key: matching)
        #expect(wrapped.count == 24)
        let generic = try Self.secretKey(session, Self.random(16), type: .genericSecret)
        let refused = #expect(throws: PKCS11Error.self) {
            try session.wrapKey(Mechanism(.aesKeyWrap), wrappingKey: wrapKey, key: generic)
        }
        #expect(refused?.returnValue == .keyNotWrappable)

        let unwrapped = try session.unwrapKey(
            Mechanism(.aesKeyWrap), unwrappingKey: wrapKey, wrapped: wrapped,
            template: [Attribute(.secretKey), Attribute(.aes), Attribute(.token, false)])
        let flags = try unwrapped.attributes([.sensitive, .extractable])
        #expect(flags.bool(.sensitive) == true && flags.bool(.extractable) == false)
        let inconsistent = #expect(throws: PKCS11Error.self) {
            try session.unwrapKey(
                Mechanism(.aesKeyWrap), unwrappingKey: wrapKey, wrapped: wrapped,
                template: [
                    Attribute(.secretKey), Attribute(.aes), Attribute(.token, false), Attribute(.extractable, true),
                ])
        }
        #expect(inconsistent?.returnValue == .templateInconsistent)

        // C_GetAttributeValue of CKA_UNWRAP_TEMPLATE: the array's length, then each entry's, then the values.
        let read = raw.nestedTemplate(wrapper, CK_ATTRIBUTE_TYPE(CKA_UNWRAP_TEMPLATE))
        #expect(read.rv == CKR_OK)
        #expect(
            read.entries.map(\.0).sorted()
                == [CK_ATTRIBUTE_TYPE(CKA_SENSITIVE), CK_ATTRIBUTE_TYPE(CKA_EXTRACTABLE)].sorted())
        #expect(read.entries.first { $0.0 == CK_ATTRIBUTE_TYPE(CKA_SENSITIVE) }?.1 == [1])
        #expect(read.entries.first { $0.0 == CK_ATTRIBUTE_TYPE(CKA_EXTRACTABLE) }?.1 == [0])
    }

    @Test(
        "C_GetMechanismInfo: CKM_AES_KEY_WRAP and _PAD wrap and unwrap with 16–32-byte keys; RSA PKCS#1 and OAEP add CKF_WRAP and CKF_UNWRAP"
    )
    func mechanismInfo() throws {
        let (_, session) = try SoftTokenRig.freshSession()
        let functions = session.slot.module.functions.pointee
        func info(_ type: UInt) -> (CK_RV, CK_MECHANISM_INFO) {
            var value = CK_MECHANISM_INFO()
            let rv = functions.C_GetMechanismInfo!(session.slot.id, CK_MECHANISM_TYPE(type), &value)
            return (rv, value)
        }
        for type in [CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD] {
            let (rv, value) = info(type)
            #expect(rv == CKR_OK)
            #expect(
                value.flags == CK_FLAGS(CKF_WRAP | CKF_UNWRAP) && value.ulMinKeySize == 16 && value.ulMaxKeySize == 32)
        }
        #expect(
            info(CKM_RSA_PKCS).1.flags
                == CK_FLAGS(CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP))
        #expect(info(CKM_RSA_PKCS_OAEP).1.flags == CK_FLAGS(CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP))
        #expect(info(CKM_RSA_PKCS_OAEP).1.ulMinKeySize == 1024 && info(CKM_RSA_PKCS_OAEP).1.ulMaxKeySize == 4096)
    }

}

/// Wrap templates through the raw function list (the PKCS11 layer has no nested templates).
extension CipherTests.Raw {
    /// A session AES key that wraps and unwraps, with a CKA_WRAP_TEMPLATE and CKA_UNWRAP_TEMPLATE.
    func createKey(_ value: [UInt8], wrapTemplate: RawTemplate, unwrapTemplate: RawTemplate) throws -> CK_OBJECT_HANDLE
    {
        let template = RawTemplate()
            .add(CKA_CLASS, ulong: CKO_SECRET_KEY).add(CKA_KEY_TYPE, ulong: CKK_AES)
            .add(CKA_TOKEN, bool: false).add(CKA_WRAP, bool: true).add(CKA_UNWRAP, bool: true)
            .add(CKA_VALUE, bytes: value)
            .add(CKA_WRAP_TEMPLATE, template: wrapTemplate).add(CKA_UNWRAP_TEMPLATE, template: unwrapTemplate)
        var handle: CK_OBJECT_HANDLE = 0
        let rv = template.withAttributes { functions.C_CreateObject!(self.handle, $0, $1, &handle) }
        guard rv == CKR_OK else {
            throw TestSupportError("C_CreateObject with wrap templates: 0x\(String(rv, radix: 16))")
        }
        return handle
    }

    /// A CK_ATTRIBUTE-array attribute read in the three passes a client makes.
    func nestedTemplate(_ object: CK_OBJECT_HANDLE, _ type: CK_ATTRIBUTE_TYPE) -> (
        rv: CK_RV, entries: [(CK_ATTRIBUTE_TYPE, [UInt8])]
    ) {
        var outer = CK_ATTRIBUTE(type: type, pValue: nil, ulValueLen: 0)
        var rv = functions.C_GetAttributeValue!(handle, object, &outer, 1)
        guard rv == CKR_OK else { return (rv, []) }
        let count = Int(outer.ulValueLen) / MemoryLayout<CK_ATTRIBUTE>.stride
        var entries = [CK_ATTRIBUTE](repeating: CK_ATTRIBUTE(type: 0, pValue: nil, ulValueLen: 0), count: count)
        rv = entries.withUnsafeMutableBytes { buffer in
            outer.pValue = buffer.baseAddress
            return functions.C_GetAttributeValue!(handle, object, &outer, 1)
        }
        guard rv == CKR_OK else { return (rv, []) }
        let buffers = entries.map {
            UnsafeMutableRawBufferPointer.allocate(byteCount: max(Int($0.ulValueLen), 1), alignment: 8)
        }
        defer { buffers.forEach { $0.deallocate() } }
        for i in 0..<count { entries[i].pValue = buffers[i].baseAddress }
        rv = entries.withUnsafeMutableBytes { buffer in
            outer.pValue = buffer.baseAddress
            return functions.C_GetAttributeValue!(handle, object, &outer, 1)
        }
        let result = (0..<count).map { i in (entries[i].type, Array(buffers[i].prefix(Int(entries[i].ulValueLen)))) }
        return (rv, result)
    }
}
