internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// The software token's answers where PKCS#11 leaves a module a choice or asks for strictness:
/// C_SeedRandom, C_GetOperationState, attributes that do not belong to an object's class, and
/// multi-part signing with every signature mechanism.
@Suite("software token functions: seeding, operation state, attributes by class, multi-part signing")
struct ModuleFunctionTests {
    @Test(
        "C_SeedRandom mixes a seed in (CKR_OK, the token has CKF_RNG); a NULL seed with a length is CKR_ARGUMENTS_BAD; C_Get/SetOperationState are CKR_FUNCTION_NOT_SUPPORTED"
    )
    func seedAndOperationState() throws {
        let (_, session) = try SoftTokenRig.freshSession()
        let functions = session.slot.module.functions.pointee
        var info = CK_TOKEN_INFO()
        #expect(functions.C_GetTokenInfo!(session.slot.id, &info) == CKR_OK)
        #expect(info.flags & CK_FLAGS(CKF_RNG) != 0)
        var seed = Array("some entropy of the caller's".utf8)
        #expect(functions.C_SeedRandom!(session.handle, &seed, CK_ULONG(seed.count)) == CKR_OK)
        #expect(functions.C_SeedRandom!(session.handle, nil, 4) == CKR_ARGUMENTS_BAD)
        #expect(functions.C_SeedRandom!(0xDEAD, &seed, CK_ULONG(seed.count)) == CKR_SESSION_HANDLE_INVALID)
        // Random bytes still differ after a seed: the seed adds to the generator, never fixes it.
        var a = [UInt8](repeating: 0, count: 32)
        var b = [UInt8](repeating: 0, count: 32)
        #expect(functions.C_GenerateRandom!(session.handle, &a, 32) == CKR_OK)
        #expect(functions.C_SeedRandom!(session.handle, &seed, CK_ULONG(seed.count)) == CKR_OK)
        #expect(functions.C_GenerateRandom!(session.handle, &b, 32) == CKR_OK)
        #expect(a != b)

        var length: CK_ULONG = 0
        #expect(functions.C_GetOperationState!(session.handle, nil, &length) == CKR_FUNCTION_NOT_SUPPORTED)
        var state = [UInt8](repeating: 0, count: 16)
        #expect(functions.C_SetOperationState!(session.handle, &state, 16, 0, 0) == CKR_FUNCTION_NOT_SUPPORTED)
        // The exported symbols answer the same as the function list.
        let library = try #require(dlopen(SoftTokenRig.modulePath, RTLD_NOW))
        let symbol = try #require(dlsym(library, "C_GetOperationState"))
        typealias GetState =
            @convention(c) (CK_SESSION_HANDLE, UnsafeMutablePointer<CK_BYTE>?, UnsafeMutablePointer<CK_ULONG>?) -> CK_RV
        #expect(unsafeBitCast(symbol, to: GetState.self)(session.handle, nil, &length) == CKR_FUNCTION_NOT_SUPPORTED)
    }

    @Test(
        "an attribute the object's class cannot have is CKR_ATTRIBUTE_TYPE_INVALID in C_CreateObject, C_GenerateKey and C_SetAttributeValue; C_GetAttributeValue gives CK_UNAVAILABLE_INFORMATION for it and the others' values"
    )
    func attributesByClass() throws {
        let dir = try TemporaryDirectory()
        let (_, session) = try SoftTokenRig.freshSession()
        let rsa = try RSAComponents.generate(bits: 2048, in: dir)
        let certificate = try makeCertificate(keyPEM: rsa.pem, subject: "/CN=Attributes", in: dir)
        let der = certificate.der
        let cert: [Attribute] = [
            Attribute(.certificate), Attribute(.certificateType, ulong: 0), Attribute(.token, false),
            Attribute(.value, bytes: der),
        ]
        let refusals: [(String, () throws -> Void)] = [
            (
                "CKA_MODULUS on a certificate",
                { _ = try session.createObject(cert + [Attribute(.modulus, bytes: rsa.modulus)]) }
            ),
            (
                "CKA_VALUE_LEN on an RSA public key",
                {
                    _ = try session.createObject(
                        rsa.publicTemplate(label: "p", id: [1]) + [Attribute(.valueLen, ulong: 256)])
                }
            ),
            (
                "CKA_EC_PARAMS on an RSA private key",
                {
                    _ = try session.createObject(
                        rsa.privateTemplate(label: "p", id: [1], extraFlags: [Attribute(.ecParams, bytes: [6, 1, 1])]))
                }
            ),
            (
                "CKA_MODULUS_BITS in C_GenerateKey (AES)",
                {
                    _ = try session.generateAESKey(bytes: 16, adding: [Attribute(.modulusBits, ulong: 2048)])
                }
            ),
            ("CKA_SIGN on a certificate", { _ = try session.createObject(cert + [Attribute(.sign, true)]) }),
        ]
        for (what, call) in refusals {
            let error = #expect(throws: PKCS11Error.self, "\(what)") { try call() }
            #expect(error?.returnValue == .attributeTypeInvalid, "\(what): \(String(describing: error))")
        }
        let object = try session.createObject(cert + [Attribute(.label, string: "cert")])
        let set = #expect(throws: PKCS11Error.self) {
            try session.setAttributes([Attribute(.modulus, bytes: rsa.modulus)], of: object)
        }
        #expect(set?.returnValue == .attributeTypeInvalid)

        let functions = session.slot.module.functions.pointee
        var label = [UInt8](repeating: 0, count: 16)
        var modulus = [UInt8](repeating: 0, count: 512)
        let rv = label.withUnsafeMutableBytes { l in
            modulus.withUnsafeMutableBytes { m in
                var template = [
                    CK_ATTRIBUTE(
                        type: CK_ATTRIBUTE_TYPE(CKA_MODULUS), pValue: m.baseAddress, ulValueLen: CK_ULONG(m.count)),
                    CK_ATTRIBUTE(
                        type: CK_ATTRIBUTE_TYPE(CKA_LABEL), pValue: l.baseAddress, ulValueLen: CK_ULONG(l.count)),
                ]
                let rv = functions.C_GetAttributeValue!(session.handle, object.handle, &template, 2)
                #expect(template[0].ulValueLen == CK_ULONG.max)  // CK_UNAVAILABLE_INFORMATION
                #expect(template[1].ulValueLen == 4)
                return rv
            }
        }
        #expect(rv == CKR_ATTRIBUTE_TYPE_INVALID)
        #expect(Array(label.prefix(4)) == Array("cert".utf8))
    }

    @Test(
        "every signature mechanism signs and verifies in parts (C_SignUpdate/C_VerifyUpdate) as in one call: each verifies the other's signature, deterministic ones are equal, a changed message fails"
    )
    func multiPartSigning() throws {
        let (_, session) = try SoftTokenRig.freshSession()
        let rsa = try session.generateKeyPair(
            Mechanism(.rsaPKCSKeyPairGen),
            publicTemplate: [Attribute(.token, false), Attribute(.modulusBits, ulong: 2048), Attribute(.verify, true)],
            privateTemplate: [Attribute(.token, false), Attribute(.sign, true)])
        let p256: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        let ec = try session.generateKeyPair(
            Mechanism(.ecKeyPairGen),
            publicTemplate: [Attribute(.token, false), Attribute(.ecParams, bytes: p256), Attribute(.verify, true)],
            privateTemplate: [Attribute(.token, false), Attribute(.sign, true)])
        let hmacKey = try session.createObject([
            Attribute(.secretKey), Attribute(.genericSecret), Attribute(.token, false),
            Attribute(.value, bytes: Array("an hmac key of 32 bytes, exactly".utf8)),
            Attribute(.sign, true), Attribute(.verify, true),
        ])
        let aesKey = try session.createObject([
            Attribute(.secretKey), Attribute(.aes), Attribute(.token, false),
            Attribute(.value, bytes: [UInt8](repeating: 9, count: 16)), Attribute(.sign, true),
            Attribute(.verify, true),
        ])
        func pss(_ type: UInt, _ hash: UInt, _ mgf: UInt, _ salt: UInt) -> Mechanism {
            Mechanism(MechanismType(rawValue: type), parameter: ulongBytes([hash, mgf, salt]))
        }
        let digestInfoSHA256 = hexBytes("3031300d060960864801650304020105000420")
        typealias Case = (Mechanism, Object, Object, deterministic: Bool, message: [UInt8])
        var cases: [Case] = []
        cases.append(
            (
                Mechanism(.rsaPKCS), rsa.privateKey, rsa.publicKey, true,
                digestInfoSHA256 + [UInt8](repeating: 1, count: 32)
            ))
        cases.append(
            (Mechanism(MechanismType(rawValue: UInt(CKM_SHA1_RSA_PKCS))), rsa.privateKey, rsa.publicKey, true, []))
        cases.append(
            (Mechanism(MechanismType(rawValue: UInt(CKM_SHA224_RSA_PKCS))), rsa.privateKey, rsa.publicKey, true, []))
        cases.append((Mechanism(.sha256RSAPKCS), rsa.privateKey, rsa.publicKey, true, []))
        cases.append((Mechanism(.sha384RSAPKCS), rsa.privateKey, rsa.publicKey, true, []))
        cases.append((Mechanism(.sha512RSAPKCS), rsa.privateKey, rsa.publicKey, true, []))
        cases.append(
            (
                pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32), rsa.privateKey, rsa.publicKey, false,
                [UInt8](repeating: 2, count: 32)
            ))
        cases.append(
            (pss(CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, 20), rsa.privateKey, rsa.publicKey, false, []))
        cases.append(
            (pss(CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224, CKG_MGF1_SHA224, 28), rsa.privateKey, rsa.publicKey, false, []))
        cases.append(
            (pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32), rsa.privateKey, rsa.publicKey, false, []))
        cases.append(
            (pss(CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48), rsa.privateKey, rsa.publicKey, false, []))
        cases.append(
            (pss(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64), rsa.privateKey, rsa.publicKey, false, []))
        cases.append((Mechanism(.ecdsa), ec.privateKey, ec.publicKey, false, [UInt8](repeating: 3, count: 32)))
        cases.append((Mechanism(MechanismType(rawValue: UInt(CKM_ECDSA_SHA1))), ec.privateKey, ec.publicKey, false, []))
        cases.append(
            (Mechanism(MechanismType(rawValue: UInt(CKM_ECDSA_SHA224))), ec.privateKey, ec.publicKey, false, []))
        cases.append((Mechanism(.ecdsaSHA256), ec.privateKey, ec.publicKey, false, []))
        cases.append((Mechanism(.ecdsaSHA384), ec.privateKey, ec.publicKey, false, []))
        cases.append((Mechanism(.ecdsaSHA512), ec.privateKey, ec.publicKey, false, []))
        for type in [CKM_SHA_1_HMAC, CKM_SHA224_HMAC, CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC] {
            cases.append((Mechanism(MechanismType(rawValue: UInt(type))), hmacKey, hmacKey, true, []))
        }
        cases.append((Mechanism(MechanismType(rawValue: UInt(CKM_AES_CMAC))), aesKey, aesKey, true, []))

        let longMessage = Array(String(repeating: "a message signed in parts. ", count: 40).utf8)
        for (mechanism, signer, verifier, deterministic, fixed) in cases {
            let message = fixed.isEmpty ? longMessage : fixed
            let parts = stride(from: 0, to: message.count, by: max(message.count / 3, 1)).map {
                Array(message[$0..<min($0 + max(message.count / 3, 1), message.count)])
            }
            try session.signInit(mechanism, key: signer)
            let single = try session.sign(message)
            let multi = try session.signInParts(mechanism, key: signer, parts)
            if deterministic { #expect(single == multi, "\(mechanism): parts sign differently") }
            #expect(
                try session.verify(mechanism, key: verifier, data: message, signature: multi),
                "\(mechanism): a multi-part signature fails C_Verify")
            func verifyInParts(_ data: [[UInt8]], _ signature: [UInt8]) throws -> CK_RV {
                try session.verifyInParts(mechanism, key: verifier, data, signature: signature)
            }
            #expect(
                try verifyInParts(parts, single) == CKR_OK,
                "\(mechanism): C_VerifyUpdate rejects the single-part signature")
            #expect(
                try verifyInParts(parts.dropLast() + [[0x58]], single) == CKR_SIGNATURE_INVALID,
                "\(mechanism): a changed message verifies")
        }
    }
}
