internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// HMAC and AES-CMAC signatures on the software token, checked against `openssl mac` for the
/// same key and message, single- and multi-part, and verified back.
@Suite("software token MACs against openssl mac")
struct MacTests {
    /// `openssl mac`'s answer: `arguments` are its -macopt values, then the MAC's name.
    static func reference(_ arguments: [String], key: [UInt8], message: [UInt8], in dir: TemporaryDirectory) throws
        -> [UInt8]
    {
        let file = dir.file("message-\(UInt32.random(in: 0...UInt32.max))")
        try Data(message).write(to: URL(fileURLWithPath: file))
        let name = arguments.last!
        let options = arguments.dropLast().flatMap { ["-macopt", $0] }
        let result = try run("openssl", ["mac"] + options + ["-macopt", "hexkey:\(hexString(key))", "-in", file, name])
        guard result.status == 0 else { throw TestSupportError("openssl mac: \(result.stderr)") }
        return hexBytes(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).lowercased())
    }

    /// C_SignInit then C_Sign, or C_SignUpdate in 13-byte parts and C_SignFinal.
    static func sign(_ session: Session, _ type: CK_MECHANISM_TYPE, key: Object, _ message: [UInt8], multi: Bool) -> (
        CK_RV, [UInt8]
    ) {
        let f = session.slot.module.functions.pointee
        var mechanism = CK_MECHANISM(mechanism: type, pParameter: nil, ulParameterLen: 0)
        var input = message
        guard f.C_SignInit!(session.handle, &mechanism, key.handle) == CKR_OK else { return (CKR_GENERAL_ERROR, []) }
        var out = [UInt8](repeating: 0, count: 64)
        var length = CK_ULONG(out.count)
        if multi {
            var start = 0
            while start < input.count {
                var part = Array(input[start..<min(start + 13, input.count)])
                let rv = f.C_SignUpdate!(session.handle, &part, CK_ULONG(part.count))
                guard rv == CKR_OK else { return (rv, []) }
                start += 13
            }
            let rv = f.C_SignFinal!(session.handle, &out, &length)
            return (rv, Array(out.prefix(Int(length))))
        }
        let rv = f.C_Sign!(session.handle, &input, CK_ULONG(input.count), &out, &length)
        return (rv, Array(out.prefix(Int(length))))
    }

    static func verify(_ session: Session, _ type: CK_MECHANISM_TYPE, key: Object, _ message: [UInt8], _ mac: [UInt8])
        -> CK_RV
    {
        let f = session.slot.module.functions.pointee
        var mechanism = CK_MECHANISM(mechanism: type, pParameter: nil, ulParameterLen: 0)
        var input = message
        var signature = mac
        guard f.C_VerifyInit!(session.handle, &mechanism, key.handle) == CKR_OK else { return CKR_GENERAL_ERROR }
        return f.C_Verify!(session.handle, &input, CK_ULONG(input.count), &signature, CK_ULONG(signature.count))
    }

    @Test(
        "CKM_SHA*_HMAC over generic secret and AES keys and CKM_AES_CMAC equal openssl mac; C_Verify accepts them and refuses a changed one",
        arguments: [
            (CKM_SHA_1_HMAC, "SHA1", CKK_GENERIC_SECRET, 40), (CKM_SHA224_HMAC, "SHA224", CKK_GENERIC_SECRET, 28),
            (CKM_SHA256_HMAC, "SHA256", CKK_GENERIC_SECRET, 100), (CKM_SHA384_HMAC, "SHA384", CKK_GENERIC_SECRET, 48),
            (CKM_SHA512_HMAC, "SHA512", CKK_GENERIC_SECRET, 64), (CKM_SHA256_HMAC, "SHA256", CKK_AES, 32),
            (CKM_AES_CMAC, "AES-128-CBC", CKK_AES, 16), (CKM_AES_CMAC, "AES-256-CBC", CKK_AES, 32),
        ])
    func macs(type: CK_MECHANISM_TYPE, algorithm: String, keyType: CK_KEY_TYPE, keySize: Int) throws {
        let dir = try TemporaryDirectory()
        let (_, session) = try SoftTokenRig.freshSession()
        let keyValue = (0..<keySize).map { _ in UInt8.random(in: 0...255) }
        let key = try session.createObject([
            Attribute(.secretKey), Attribute(.keyType, ulong: keyType), Attribute(.token, false),
            Attribute(.value, bytes: keyValue), Attribute(.sign, true), Attribute(.verify, true),
        ])
        let message = (0..<77).map { _ in UInt8.random(in: 0...255) }
        let cmac = type == CKM_AES_CMAC
        let expected = try Self.reference(
            cmac ? ["cipher:\(algorithm)", "CMAC"] : ["digest:\(algorithm)", "HMAC"],
            key: keyValue, message: message, in: dir)
        let single = Self.sign(session, type, key: key, message, multi: false)
        #expect(single.0 == CKR_OK)
        #expect(single.1 == expected)
        let multi = Self.sign(session, type, key: key, message, multi: true)
        #expect(multi.0 == CKR_OK)
        #expect(multi.1 == expected)
        #expect(Self.verify(session, type, key: key, message, expected) == CKR_OK)
        var changed = expected
        changed[0] ^= 1
        #expect(Self.verify(session, type, key: key, message, changed) == CKR_SIGNATURE_INVALID)
        #expect(Self.verify(session, type, key: key, message, Array(expected.dropLast())) == CKR_SIGNATURE_LEN_RANGE)
    }

    @Test(
        "CKM_GENERIC_SECRET_KEY_GEN makes a CKK_GENERIC_SECRET key of CKA_VALUE_LEN bytes whose HMAC equals openssl's")
    func genericSecretKeyGen() throws {
        let dir = try TemporaryDirectory()
        let (_, session) = try SoftTokenRig.freshSession()
        let key = try session.generateKey(
            Mechanism(MechanismType(rawValue: CKM_GENERIC_SECRET_KEY_GEN)),
            template: [
                Attribute(.valueLen, ulong: 48), Attribute(.sign, true), Attribute(.token, false),
                Attribute(.sensitive, false), Attribute(.extractable, true),
            ])
        let values = try key.attributes([.keyType, .value])
        #expect(values.keyType == .genericSecret)
        let value = try #require(values[.value])
        #expect(value.count == 48)
        let message = Array("generic secret".utf8)
        let expected = try Self.reference(["digest:SHA256", "HMAC"], key: value, message: message, in: dir)
        #expect(Self.sign(session, CKM_SHA256_HMAC, key: key, message, multi: false).1 == expected)
    }
}
