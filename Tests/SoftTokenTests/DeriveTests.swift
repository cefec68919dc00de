internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// C_DeriveKey with CKM_ECDH1_DERIVE and CKM_ECDH1_COFACTOR_DERIVE on the software token,
/// checked against `openssl pkeyutl -derive` for the same two keys and, for the X9.63 KDFs,
/// `openssl kdf X963KDF` over openssl's own secret.
@Suite("software token ECDH key derivation against openssl")
struct DeriveTests {
    static let curves = ["prime256v1", "secp384r1", "secp521r1"]

    /// A key pair on the token (imported from an openssl key, CKA_DERIVE set) and a peer key of
    /// openssl's, with what openssl agrees for the two.
    struct Rig {
        let dir: TemporaryDirectory
        let test: TestToken
        let session: Session
        let mine: ECComponents
        let peer: ECComponents
        let key: Object
        /// `openssl pkeyutl -derive` of the token's key with the peer's public key: Z.
        let expected: [UInt8]

        init(curve: String = "prime256v1", extra: [Attribute] = []) throws {
            dir = try TemporaryDirectory()
            test = try SoftTokenRig.freshToken()
            session = try test.userSession()
            mine = try ECComponents.generate(curve: curve, in: dir)
            peer = try ECComponents.generate(curve: curve, in: dir)
            key = try session.createObject(
                [
                    Attribute(.privateKey), Attribute(.ec), Attribute(.token, false), Attribute(.derive, true),
                    Attribute(.ecParams, bytes: mine.parameters), Attribute(.value, bytes: mine.privateValue),
                ] + extra)
            let mineFile = try dir.write("mine.pem", mine.pem)
            let peerFile = try dir.write("peer.pem", peer.pem)
            let peerPublic = dir.file("peer.pub")
            let exported = try run("openssl", ["pkey", "-in", peerFile, "-pubout", "-out", peerPublic])
            try #require(exported.status == 0, "\(exported.stderr)")
            let out = dir.file("z.bin")
            let derived = try run(
                "openssl", ["pkeyutl", "-derive", "-inkey", mineFile, "-peerkey", peerPublic, "-out", out])
            try #require(derived.status == 0, "\(derived.stderr)")
            expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        }

        /// The peer's uncompressed point, bare (04‖X‖Y): CKA_EC_POINT without its OCTET STRING header.
        var peerPoint: [UInt8] { Array(peer.point[(peer.point[1] & 0x80 == 0 ? 2 : 2 + Int(peer.point[1] & 0x7F))...]) }

        /// C_DeriveKey: its CK_RV and the new key's handle.
        func derive(
            _ type: CK_MECHANISM_TYPE = CK_MECHANISM_TYPE(CKM_ECDH1_DERIVE), kdf: CK_ULONG = CK_ULONG(CKD_NULL),
            shared: [UInt8] = [], publicData: [UInt8]? = nil, base: Object? = nil, template: [Attribute]
        ) -> (CK_RV, CK_OBJECT_HANDLE) {
            let f = session.slot.module.functions.pointee
            var point = publicData ?? peerPoint
            var sharedData = shared
            var handle: CK_OBJECT_HANDLE = 0
            let rv = point.withUnsafeMutableBufferPointer { point in
                sharedData.withUnsafeMutableBufferPointer { sharedData in
                    var params = CK_ECDH1_DERIVE_PARAMS(
                        kdf: kdf, ulSharedDataLen: CK_ULONG(sharedData.count),
                        pSharedData: sharedData.count == 0 ? nil : sharedData.baseAddress,
                        ulPublicDataLen: CK_ULONG(point.count), pPublicData: point.baseAddress)
                    return withUnsafeMutableBytes(of: &params) { raw in
                        var mechanism = CK_MECHANISM(
                            mechanism: type, pParameter: raw.baseAddress, ulParameterLen: CK_ULONG(raw.count))
                        return
                            (try? withTemplate(template) { attrs, count in
                                f.C_DeriveKey!(session.handle, &mechanism, (base ?? key).handle, attrs, count, &handle)
                            }) ?? CKR_GENERAL_ERROR
                    }
                }
            }
            return (rv, handle)
        }

        /// The value of a derived key made readable.
        func value(_ handle: CK_OBJECT_HANDLE) throws -> [UInt8] {
            try #require(Object(session: session, handle: handle).attributes([.value])[.value])
        }
    }

    /// CKA_ALLOWED_MECHANISMS naming one mechanism.
    static func allowed(_ type: UInt) -> Attribute {
        Attribute(.allowedMechanisms, bytes: ulongBytes([type]))
    }

    static func readable(_ keyType: KeyType = .genericSecret, length: Int? = nil) -> [Attribute] {
        [
            Attribute(.secretKey), Attribute(keyType), Attribute(.token, false), Attribute(.sensitive, false),
            Attribute(.extractable, true),
        ]
            + (length.map { [Attribute(.valueLen, ulong: UInt($0))] } ?? [])
    }

    @Test(
        "CKD_NULL gives openssl's ECDH secret on P-256, P-384 and P-521, for both mechanisms and both forms of the peer's point",
        arguments: curves)
    func rawSecretEqualsOpenSSL(curve: String) throws {
        let rig = try Rig(curve: curve)
        for type in [CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE].map({ CK_MECHANISM_TYPE($0) }) {
            for publicData in [rig.peerPoint, rig.peer.point] {
                let (rv, handle) = rig.derive(type, publicData: publicData, template: Self.readable())
                try #require(rv == CKR_OK, "C_DeriveKey: \(rv)")
                #expect(try rig.value(handle) == rig.expected)
                let length = try Object(session: rig.session, handle: handle).attributes([.valueLen]).ulong(.valueLen)
                #expect(length == CK_ULONG(rig.expected.count))
            }
        }
        // A shorter key takes the secret's last bytes (as SoftHSM2 and Kryoptic do).
        let (rv, handle) = rig.derive(template: Self.readable(.aes, length: 16))
        try #require(rv == CKR_OK)
        #expect(try rig.value(handle) == Array(rig.expected.suffix(16)))
        // The token's own CertStore path (CKD_NULL, generic secret) agrees too.
        let secret = try rig.session.deriveECDH(key: rig.key, publicData: rig.peerPoint, template: Self.readable())
        #expect(try secret.attributes([.value])[.value] == rig.expected)
    }

    @Test(
        "the X9.63 KDFs give openssl kdf X963KDF over openssl's secret and the shared data, for generic and AES keys",
        arguments: [
            (CKD_SHA1_KDF, "SHA1"), (CKD_SHA224_KDF, "SHA224"), (CKD_SHA256_KDF, "SHA256"),
            (CKD_SHA384_KDF, "SHA384"), (CKD_SHA512_KDF, "SHA512"),
        ])
    func kdfEqualsOpenSSL(kdf: CK_ULONG, digest: String) throws {
        let rig = try Rig(curve: "secp384r1")
        let shared: [UInt8] = Array("shared info for X9.63".utf8)
        for (keyType, length, info) in [(KeyType.genericSecret, 40, shared), (.aes, 32, shared), (.aes, 16, [])] {
            let (rv, handle) = rig.derive(kdf: kdf, shared: info, template: Self.readable(keyType, length: length))
            try #require(rv == CKR_OK, "C_DeriveKey \(digest): \(rv)")
            var arguments = [
                "kdf", "-keylen", "\(length)", "-kdfopt", "digest:\(digest)", "-kdfopt",
                "hexkey:\(hexString(rig.expected))",
            ]
            if !info.isEmpty { arguments += ["-kdfopt", "hexinfo:\(hexString(info))"] }
            let reference = try run("openssl", arguments + ["X963KDF"])
            try #require(reference.status == 0, "\(reference.stderr)")
            let expected = hexBytes(reference.stdout.filter { $0 != ":" && !$0.isWhitespace })
            #expect(expected.count == length)
            #expect(try rig.value(handle) == expected)
        }
        // A KDF has no natural length: the template must give one.
        #expect(rig.derive(kdf: kdf, template: Self.readable()).0 == CKR_TEMPLATE_INCOMPLETE)
    }

    @Test(
        "a derived key follows PKCS#11's rules: not sensitive unless asked (then unextractable unless asked), always sensitive and never extractable only if its base key was and it is"
    )
    func derivedPolicyFollowsBaseKey() throws {
        let rig = try Rig()
        func generated(extractable: Bool) throws -> Object {
            try rig.session.generateKeyPair(
                Mechanism(.ecKeyPairGen),
                publicTemplate: [Attribute(.token, false), Attribute(.ecParams, bytes: rig.mine.parameters)],
                privateTemplate: [Attribute(.token, false), Attribute(.extractable, extractable)]
            ).privateKey
        }
        let strictBase = try generated(extractable: false)
        let extractableBase = try generated(extractable: true)
        func flags(_ handle: CK_OBJECT_HANDLE) throws -> [Bool?] {
            let types: [AttributeType] = [.sensitive, .extractable, .alwaysSensitive, .neverExtractable, .local]
            let values = try Object(session: rig.session, handle: handle).attributes(types)
            return types.map { values.bool($0) }
        }
        let base = [Attribute(.secretKey), Attribute(.aes), Attribute(.token, false), Attribute(.valueLen, ulong: 32)]
        // (base key, the template's policy, SENSITIVE, EXTRACTABLE, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE)
        let cases: [(String, Object, [Attribute], [Bool])] = [
            ("silent template", strictBase, [], [false, true, false, false]),
            ("sensitive", strictBase, [Attribute(.sensitive, true)], [true, false, true, true]),
            (
                "sensitive, extractable", strictBase, [Attribute(.sensitive, true), Attribute(.extractable, true)],
                [true, true, true, false]
            ),
            ("unextractable only", strictBase, [Attribute(.extractable, false)], [false, false, false, true]),
            ("extractable base", extractableBase, [Attribute(.sensitive, true)], [true, false, true, false]),
            // An imported base key was once outside the token: nothing derived from it was always sensitive.
            ("imported base", rig.key, [Attribute(.sensitive, true)], [true, false, false, false]),
            ("imported base, silent template", rig.key, [], [false, true, false, false]),
        ]
        for (name, baseKey, policy, expected) in cases {
            let (rv, handle) = rig.derive(base: baseKey, template: base + policy)
            try #require(rv == CKR_OK, "\(name): \(rv)")
            #expect(try flags(handle) == (expected + [false]).map { Optional($0) }, "\(name)")
            let value = try Object(session: rig.session, handle: handle).attributes([.value])[.value]
            #expect((value == nil) == (expected[0] || !expected[1]), "\(name): CKA_VALUE readable is wrong")
            // The imported key is openssl's: its secret is openssl's too.
            if let value, baseKey.handle == rig.key.handle { #expect(value == Array(rig.expected.suffix(32))) }
        }
    }

    @Test(
        "C_DeriveKey refuses a key without CKA_DERIVE, a mechanism outside CKA_ALLOWED_MECHANISMS, a point off the curve, and templates it cannot honour"
    )
    func refusals() throws {
        let rig = try Rig()
        let noDerive = try rig.session.createObject([
            Attribute(.privateKey), Attribute(.ec), Attribute(.token, false), Attribute(.derive, false),
            Attribute(.ecParams, bytes: rig.mine.parameters), Attribute(.value, bytes: rig.mine.privateValue),
        ])
        #expect(rig.derive(base: noDerive, template: Self.readable()).0 == CKR_KEY_FUNCTION_NOT_PERMITTED)
        let onlySigning = try rig.session.createObject([
            Attribute(.privateKey), Attribute(.ec), Attribute(.token, false), Attribute(.derive, true),
            Attribute(.ecParams, bytes: rig.mine.parameters), Attribute(.value, bytes: rig.mine.privateValue),
            Self.allowed(CKM_ECDSA),
        ])
        #expect(rig.derive(base: onlySigning, template: Self.readable()).0 == CKR_MECHANISM_INVALID)
        let allowed = try rig.session.createObject([
            Attribute(.privateKey), Attribute(.ec), Attribute(.token, false), Attribute(.derive, true),
            Attribute(.ecParams, bytes: rig.mine.parameters), Attribute(.value, bytes: rig.mine.privateValue),
            Self.allowed(CKM_ECDH1_DERIVE),
        ])
        #expect(rig.derive(base: allowed, template: Self.readable()).0 == CKR_OK)
        #expect(
            rig.derive(CK_MECHANISM_TYPE(CKM_ECDH1_COFACTOR_DERIVE), base: allowed, template: Self.readable()).0
                == CKR_MECHANISM_INVALID)

        var offCurve = rig.peerPoint
        offCurve[offCurve.count - 1] ^= 1
        #expect(rig.derive(publicData: offCurve, template: Self.readable()).0 == CKR_MECHANISM_PARAM_INVALID)
        let other = try ECComponents.generate(curve: "secp384r1", in: rig.dir)
        #expect(rig.derive(publicData: other.point, template: Self.readable()).0 == CKR_MECHANISM_PARAM_INVALID)
        #expect(rig.derive(shared: [1, 2, 3], template: Self.readable()).0 == CKR_MECHANISM_PARAM_INVALID)
        #expect(rig.derive(kdf: 0x3, template: Self.readable(length: 16)).0 == CKR_MECHANISM_PARAM_INVALID)

        #expect(rig.derive(template: Self.readable(length: 33)).0 == CKR_TEMPLATE_INCONSISTENT)
        #expect(rig.derive(template: Self.readable(.aes, length: 20)).0 == CKR_ATTRIBUTE_VALUE_INVALID)
        #expect(
            rig.derive(template: [Attribute(.privateKey), Attribute(.token, false)]).0 == CKR_TEMPLATE_INCONSISTENT)
        #expect(
            rig.derive(template: [Attribute(.secretKey), Attribute(.rsa), Attribute(.token, false)]).0
                == CKR_TEMPLATE_INCONSISTENT)
        #expect(
            rig.derive(template: Self.readable() + [Attribute(.value, bytes: [1, 2, 3])]).0 == CKR_TEMPLATE_INCONSISTENT
        )
        #expect(rig.derive(CK_MECHANISM_TYPE(CKM_ECDSA), template: Self.readable()).0 == CKR_MECHANISM_INVALID)
    }

    @Test("an always-authenticate base key derives once per context login; a strict token refuses it before")
    func alwaysAuthenticateNeedsContextLogin() throws {
        let rig = try Rig(extra: [Attribute(.alwaysAuthenticate, true)])
        let f = rig.session.slot.module.functions.pointee
        #expect(rig.derive(template: Self.readable()).0 == CKR_USER_NOT_LOGGED_IN)
        var wrong = Array("not-the-pin".utf8)
        #expect(
            f.C_Login!(rig.session.handle, CK_USER_TYPE(CKU_CONTEXT_SPECIFIC), &wrong, CK_ULONG(wrong.count))
                == CKR_PIN_INCORRECT)
        var pin = Array(SoftTokenRig.userPIN.utf8)
        #expect(f.C_Login!(rig.session.handle, CK_USER_TYPE(CKU_CONTEXT_SPECIFIC), &pin, CK_ULONG(pin.count)) == CKR_OK)
        let (rv, handle) = rig.derive(template: Self.readable())
        try #require(rv == CKR_OK, "\(rv)")
        #expect(try rig.value(handle) == rig.expected)
        #expect(
            rig.derive(template: Self.readable()).0 == CKR_USER_NOT_LOGGED_IN,
            "one context login approved two derivations")
    }

    @Test("C_GetMechanismInfo gives CKF_DERIVE and the NIST key sizes for both ECDH mechanisms")
    func mechanismInfo() throws {
        let test = try SoftTokenRig.freshToken()
        let slot = try test.token().slot
        let offered = try slot.mechanisms()
        let f = slot.module.functions.pointee
        for type in [CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE] {
            #expect(offered.contains(MechanismType(rawValue: CK_MECHANISM_TYPE(type))))
            var info = CK_MECHANISM_INFO()
            #expect(f.C_GetMechanismInfo!(slot.id, CK_MECHANISM_TYPE(type), &info) == CKR_OK)
            #expect(info.flags & CK_FLAGS(CKF_DERIVE) != 0)
            #expect(info.flags & CK_FLAGS(CKF_SIGN | CKF_ENCRYPT) == 0)
            #expect(info.ulMinKeySize == 256 && info.ulMaxKeySize == 521)
        }
    }
}
