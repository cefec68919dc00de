internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// CKK_EC_EDWARDS keys and CKM_EDDSA on the software token: keys made by the token and keys of
/// openssl's brought in with C_CreateObject, signatures checked by `openssl pkeyutl -verify`
/// and compared with openssl's own (EdDSA is deterministic), openssl's verified by the token.
@Suite("software token EdDSA against openssl")
struct EdDSATests {
    enum Curve: String, CaseIterable, CustomStringConvertible {
        case ed25519, ed448
        var description: String { rawValue }
        var length: Int { self == .ed25519 ? 32 : 57 }
        var signatureLength: Int { self == .ed25519 ? 64 : 114 }
        var oid: [UInt8] { [0x06, 0x03, 0x2B, 0x65, self == .ed25519 ? 0x70 : 0x71] }
        /// PKCS#11 3.0's printable curve name, DER PrintableString.
        var printable: [UInt8] {
            let name = Array((self == .ed25519 ? "edwards25519" : "edwards448").utf8)
            return [0x13, UInt8(name.count)] + name
        }
        /// SubjectPublicKeyInfo DER up to the raw public key.
        var spkiPrefix: [UInt8] { hexBytes(self == .ed25519 ? "302a300506032b6570032100" : "3043300506032b6571033a00") }
    }

    /// A key made by `openssl genpkey`, its raw halves taken from the ends of its DER forms
    /// (RFC 8410: the raw key closes both the PKCS#8 and the SubjectPublicKeyInfo).
    struct OpenSSLKey {
        let keyFile: String
        let publicFile: String
        let privateValue: [UInt8]
        let publicValue: [UInt8]

        init(_ curve: Curve, in dir: TemporaryDirectory) throws {
            let name = "\(curve)-\(UInt32.random(in: 0...UInt32.max))"
            keyFile = dir.file("\(name).pem")
            publicFile = dir.file("\(name).pub.pem")
            let privateDER = dir.file("\(name).p8")
            let publicDER = dir.file("\(name).spki")
            for arguments in [
                ["genpkey", "-algorithm", curve.rawValue, "-out", keyFile],
                ["pkey", "-in", keyFile, "-pubout", "-out", publicFile],
                ["pkey", "-in", keyFile, "-outform", "DER", "-out", privateDER],
                ["pkey", "-in", keyFile, "-pubout", "-outform", "DER", "-out", publicDER],
            ] {
                let made = try run("openssl", arguments)
                try #require(made.status == 0, "openssl \(arguments[0]): \(made.stderr)")
            }
            privateValue = Array([UInt8](try Data(contentsOf: URL(fileURLWithPath: privateDER))).suffix(curve.length))
            publicValue = Array([UInt8](try Data(contentsOf: URL(fileURLWithPath: publicDER))).suffix(curve.length))
        }
    }

    /// CK_EDDSA_PARAMS {phFlag, ulContextDataLen, pContextData} as the C struct lays it out.
    static func eddsaParams(prehash: Bool, contextLength: UInt = 0) -> [UInt8] {
        [prehash ? 1 : 0] + [UInt8](repeating: 0, count: MemoryLayout<UInt>.size - 1) + ulongBytes([contextLength, 0])
    }

    /// C_SignInit(CKM_EDDSA) then C_Sign, or C_SignUpdate in 7-byte parts and C_SignFinal.
    static func sign(_ session: Session, key: Object, _ message: [UInt8], multi: Bool = false, params: [UInt8]? = nil)
        -> (CK_RV, [UInt8])
    {
        let f = session.slot.module.functions.pointee
        var parameter = params ?? []
        return parameter.withUnsafeMutableBytes { raw in
            var mechanism = CK_MECHANISM(
                mechanism: CK_MECHANISM_TYPE(CKM_EDDSA), pParameter: params == nil ? nil : raw.baseAddress,
                ulParameterLen: CK_ULONG(raw.count))
            let started = f.C_SignInit!(session.handle, &mechanism, key.handle)
            guard started == CKR_OK else { return (started, []) }
            var input = message
            var out = [UInt8](repeating: 0, count: 200)
            var length = CK_ULONG(out.count)
            if multi {
                for start in stride(from: 0, to: input.count, by: 7) {
                    var part = Array(input[start..<min(start + 7, input.count)])
                    let rv = f.C_SignUpdate!(session.handle, &part, CK_ULONG(part.count))
                    guard rv == CKR_OK else { return (rv, []) }
                }
                let rv = f.C_SignFinal!(session.handle, &out, &length)
                return (rv, Array(out.prefix(Int(length))))
            }
            let rv = f.C_Sign!(session.handle, &input, CK_ULONG(input.count), &out, &length)
            return (rv, Array(out.prefix(Int(length))))
        }
    }

    /// C_VerifyInit(CKM_EDDSA) then C_Verify, or C_VerifyUpdate in parts and C_VerifyFinal.
    static func verify(_ session: Session, key: Object, _ message: [UInt8], _ signature: [UInt8], multi: Bool = false)
        -> CK_RV
    {
        let f = session.slot.module.functions.pointee
        var mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_EDDSA), pParameter: nil, ulParameterLen: 0)
        guard f.C_VerifyInit!(session.handle, &mechanism, key.handle) == CKR_OK else { return CKR_GENERAL_ERROR }
        var input = message
        var sig = signature
        if multi {
            for start in stride(from: 0, to: input.count, by: 11) {
                var part = Array(input[start..<min(start + 11, input.count)])
                let rv = f.C_VerifyUpdate!(session.handle, &part, CK_ULONG(part.count))
                guard rv == CKR_OK else { return rv }
            }
            return f.C_VerifyFinal!(session.handle, &sig, CK_ULONG(sig.count))
        }
        return f.C_Verify!(session.handle, &input, CK_ULONG(input.count), &sig, CK_ULONG(sig.count))
    }

    /// `openssl pkeyutl -verify` of a signature with a public key file; true when it verifies.
    static func opensslVerifies(
        _ publicFile: String, _ message: [UInt8], _ signature: [UInt8], in dir: TemporaryDirectory
    ) throws -> Bool {
        let name = "\(UInt32.random(in: 0...UInt32.max))"
        let messageFile = dir.file("\(name).msg")
        let signatureFile = dir.file("\(name).sig")
        try Data(message).write(to: URL(fileURLWithPath: messageFile))
        try Data(signature).write(to: URL(fileURLWithPath: signatureFile))
        let checked = try run(
            "openssl",
            [
                "pkeyutl", "-verify", "-pubin", "-inkey", publicFile, "-rawin", "-in", messageFile, "-sigfile",
                signatureFile,
            ])
        return checked.status == 0 && checked.stdout.contains("Signature Verified Successfully")
    }

    static func message() -> [UInt8] { (0..<150).map { _ in UInt8.random(in: 0...255) } }

    @Test(
        "C_GenerateKeyPair makes Ed25519 and Ed448 keys from either form of CKA_EC_PARAMS; single- and multi-part signatures are equal and openssl verifies them",
        arguments: Curve.allCases, [false, true])
    func generatedKeysSign(curve: Curve, printable: Bool) throws {
        let dir = try TemporaryDirectory()
        let (_, session) = try SoftTokenRig.freshSession()
        let params = printable ? curve.printable : curve.oid
        let (publicKey, privateKey) = try session.generateKeyPair(
            Mechanism(.ecEdwardsKeyPairGen),
            publicTemplate: [Attribute(.token, false), Attribute(.ecParams, bytes: params)],
            privateTemplate: [Attribute(.token, false), Attribute(.sign, true)])
        let publicValues = try publicKey.attributes([.keyType, .ecParams, .ecPoint])
        let privateValues = try privateKey.attributes([
            .keyType, .ecParams, .local, .alwaysSensitive, .neverExtractable,
        ])
        #expect(publicValues.keyType == .ecEdwards && privateValues.keyType == .ecEdwards)
        #expect(publicValues[.ecParams] == params && privateValues[.ecParams] == params)
        #expect(
            privateValues.bool(.local) == true && privateValues.bool(.alwaysSensitive) == true
                && privateValues.bool(.neverExtractable) == true)
        let point = try #require(publicValues[.ecPoint])
        #expect(
            point.count == curve.length + 2 && point[0] == 0x04 && Int(point[1]) == curve.length,
            "CKA_EC_POINT is not a DER OCTET STRING of the raw key")
        let publicFile = dir.file("token.pub.der")
        try Data(curve.spkiPrefix + point.dropFirst(2)).write(to: URL(fileURLWithPath: publicFile))

        let message = Self.message()
        let single = Self.sign(session, key: privateKey, message)
        try #require(single.0 == CKR_OK, "C_Sign: \(single.0)")
        #expect(single.1.count == curve.signatureLength)
        let multi = Self.sign(session, key: privateKey, message, multi: true)
        #expect(multi.0 == CKR_OK)
        #expect(multi.1 == single.1, "EdDSA is deterministic: the multi-part signature differs")
        let pem = dir.file("token.pub.pem")
        let converted = try run("openssl", ["pkey", "-pubin", "-inform", "DER", "-in", publicFile, "-out", pem])
        try #require(converted.status == 0, "\(converted.stderr)")
        #expect(try Self.opensslVerifies(pem, message, single.1, in: dir))

        #expect(Self.verify(session, key: publicKey, message, single.1) == CKR_OK)
        #expect(Self.verify(session, key: publicKey, message, single.1, multi: true) == CKR_OK)
        var changed = single.1
        changed[5] ^= 0x40
        #expect(Self.verify(session, key: publicKey, message, changed) == CKR_SIGNATURE_INVALID)
        #expect(Self.verify(session, key: publicKey, message, Array(single.1.dropLast())) == CKR_SIGNATURE_LEN_RANGE)
    }

    @Test(
        "an openssl key placed with C_CreateObject signs exactly as openssl pkeyutl -sign does, and the token verifies openssl's signature",
        arguments: Curve.allCases)
    func importedKeysSignAsOpenSSL(curve: Curve) throws {
        let dir = try TemporaryDirectory()
        let (_, session) = try SoftTokenRig.freshSession()
        let key = try OpenSSLKey(curve, in: dir)
        let privateKey = try session.createObject([
            Attribute(.privateKey), Attribute(.ecEdwards), Attribute(.token, true), Attribute(.sign, true),
            Attribute(.sensitive, false), Attribute(.extractable, true), Attribute(.ecParams, bytes: curve.oid),
            Attribute(.value, bytes: key.privateValue),
            Attribute(.ecPoint, bytes: [0x04, UInt8(curve.length)] + key.publicValue),
        ])
        let publicKey = try session.createObject([
            Attribute(.publicKey), Attribute(.ecEdwards), Attribute(.token, false), Attribute(.verify, true),
            Attribute(.ecParams, bytes: curve.printable), Attribute(.ecPoint, bytes: key.publicValue),
        ])
        #expect(try privateKey.attributes([.value])[.value] == key.privateValue)
        #expect(try publicKey.attributes([.ecPoint])[.ecPoint] == [0x04, UInt8(curve.length)] + key.publicValue)

        let message = Self.message()
        let messageFile = dir.file("message")
        let signatureFile = dir.file("openssl.sig")
        try Data(message).write(to: URL(fileURLWithPath: messageFile))
        let signed = try run(
            "openssl", ["pkeyutl", "-sign", "-rawin", "-inkey", key.keyFile, "-in", messageFile, "-out", signatureFile])
        try #require(signed.status == 0, "\(signed.stderr)")
        let reference = [UInt8](try Data(contentsOf: URL(fileURLWithPath: signatureFile)))
        let token = Self.sign(session, key: privateKey, message)
        try #require(token.0 == CKR_OK, "C_Sign: \(token.0)")
        #expect(token.1 == reference)
        #expect(try Self.opensslVerifies(key.publicFile, message, token.1, in: dir))
        #expect(Self.verify(session, key: publicKey, message, reference) == CKR_OK)
        #expect(Self.verify(session, key: privateKey, message, reference, multi: true) == CKR_OK)
        var other = message
        other[0] ^= 1
        #expect(Self.verify(session, key: publicKey, other, reference) == CKR_SIGNATURE_INVALID)
    }

    @Test(
        "CK_EDDSA_PARAMS without prehash or context is pure EdDSA; Ed25519ph, contexts, foreign curves and mismatched parts are refused"
    )
    func parametersAndRefusals() throws {
        let dir = try TemporaryDirectory()
        let (_, session) = try SoftTokenRig.freshSession()
        let key = try OpenSSLKey(.ed25519, in: dir)
        let template = [
            Attribute(.privateKey), Attribute(.ecEdwards), Attribute(.token, false), Attribute(.sign, true),
        ]
        let privateKey = try session.createObject(
            template + [Attribute(.ecParams, bytes: Curve.ed25519.oid), Attribute(.value, bytes: key.privateValue)])
        let message = Self.message()
        let plain = Self.sign(session, key: privateKey, message)
        try #require(plain.0 == CKR_OK)
        let withParams = Self.sign(session, key: privateKey, message, params: Self.eddsaParams(prehash: false))
        #expect(withParams.0 == CKR_OK && withParams.1 == plain.1)
        #expect(
            Self.sign(session, key: privateKey, message, params: Self.eddsaParams(prehash: true)).0
                == CKR_MECHANISM_PARAM_INVALID)
        #expect(
            Self.sign(session, key: privateKey, message, params: Self.eddsaParams(prehash: false, contextLength: 4)).0
                == CKR_MECHANISM_PARAM_INVALID)
        #expect(Self.sign(session, key: privateKey, message, params: [0]).0 == CKR_MECHANISM_PARAM_INVALID)

        func refusal(_ attributes: [Attribute]) -> CK_RV? {
            do {
                _ = try session.createObject(attributes)
                return CKR_OK
            } catch { return error.returnValue.map { CK_RV($0.rawValue) } }
        }
        let p256: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        #expect(
            refusal(template + [Attribute(.ecParams, bytes: p256), Attribute(.value, bytes: key.privateValue)])
                == CKR_CURVE_NOT_SUPPORTED)
        #expect(
            refusal(
                template + [Attribute(.ecParams, bytes: Curve.ed448.oid), Attribute(.value, bytes: key.privateValue)])
                == CKR_ATTRIBUTE_VALUE_INVALID)
        #expect(refusal(template + [Attribute(.ecParams, bytes: Curve.ed25519.oid)]) == CKR_TEMPLATE_INCOMPLETE)
        var otherPoint = key.publicValue
        otherPoint[0] ^= 1
        #expect(
            refusal(
                template + [
                    Attribute(.ecParams, bytes: Curve.ed25519.oid), Attribute(.value, bytes: key.privateValue),
                    Attribute(.ecPoint, bytes: [0x04, 32] + otherPoint),
                ]) == CKR_TEMPLATE_INCONSISTENT)
        let refusedPair = #expect(throws: PKCS11Error.self) {
            _ = try session.generateKeyPair(
                Mechanism(.ecEdwardsKeyPairGen),
                publicTemplate: [Attribute(.token, false), Attribute(.ecParams, bytes: p256)],
                privateTemplate: [Attribute(.token, false)])
        }
        #expect(refusedPair?.returnValue.map { CK_RV($0.rawValue) } == CKR_CURVE_NOT_SUPPORTED)

        let ec = try ECComponents.generate(in: dir)
        let ecKey = try session.createObject([
            Attribute(.privateKey), Attribute(.ec), Attribute(.token, false), Attribute(.sign, true),
            Attribute(.ecParams, bytes: ec.parameters), Attribute(.value, bytes: ec.privateValue),
        ])
        #expect(Self.sign(session, key: ecKey, message).0 == CKR_KEY_TYPE_INCONSISTENT)
        let f = session.slot.module.functions.pointee
        var ecdsa = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_ECDSA), pParameter: nil, ulParameterLen: 0)
        #expect(f.C_SignInit!(session.handle, &ecdsa, privateKey.handle) == CKR_KEY_TYPE_INCONSISTENT)
    }

    @Test(
        "C_GetMechanismInfo: CKM_EDDSA signs and verifies, CKM_EC_EDWARDS_KEY_PAIR_GEN generates, both over 255 to 448 bits"
    )
    func mechanismInfo() throws {
        let test = try SoftTokenRig.freshToken()
        let slot = try test.token().slot
        let f = slot.module.functions.pointee
        var info = CK_MECHANISM_INFO()
        #expect(f.C_GetMechanismInfo!(slot.id, CK_MECHANISM_TYPE(CKM_EDDSA), &info) == CKR_OK)
        #expect(info.flags & CK_FLAGS(CKF_SIGN | CKF_VERIFY) == CK_FLAGS(CKF_SIGN | CKF_VERIFY))
        #expect(info.ulMinKeySize == 255 && info.ulMaxKeySize == 448)
        #expect(f.C_GetMechanismInfo!(slot.id, CK_MECHANISM_TYPE(CKM_EC_EDWARDS_KEY_PAIR_GEN), &info) == CKR_OK)
        #expect(info.flags & CK_FLAGS(CKF_GENERATE_KEY_PAIR) != 0)
    }
}
