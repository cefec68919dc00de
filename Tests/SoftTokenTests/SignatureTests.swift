internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// Every RSA and ECDSA signature mechanism of the software token checked against OpenSSL's own
/// answer for the same key and message: keys made by `openssl genpkey` and placed with
/// C_CreateObject; the token's signatures, single- and multi-part, verified by `openssl dgst` /
/// `openssl pkeyutl`; deterministic ones (PKCS#1 v1.5) equal to openssl's bytes; and openssl's
/// signatures verified by the token, in one call and in parts.
@Suite("software token signatures against openssl")
struct SignatureTests {
    enum Key: CustomStringConvertible {
        case rsa, ec
        var description: String { self == .rsa ? "RSA-2048" : "P-256" }
    }

    /// One mechanism: how the token is asked, and how openssl does the same.
    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let key: Key
        let type: CK_MECHANISM_TYPE
        let parameter: [UInt8]
        /// The digest openssl applies (`-sha256`), or nil where the token signs a given digest.
        let digest: String?
        /// The digest the caller computes first for a mechanism without hashing (CKM_RSA_PKCS,
        /// CKM_RSA_PKCS_PSS, CKM_ECDSA).
        let prehash: String?
        /// `-sigopt`/`-pkeyopt` values for PSS.
        let pssSalt: Int?
        var description: String { name }

        var deterministic: Bool { key == .rsa && pssSalt == nil }
        var mechanism: Mechanism { Mechanism(MechanismType(rawValue: UInt(type)), parameter: parameter) }

        static func pss(_ name: String, _ type: UInt, hash: UInt, mgf: UInt, salt: Int, digest: String?) -> Case {
            Case(
                name: name, key: .rsa, type: CK_MECHANISM_TYPE(type),
                parameter: ulongBytes([hash, mgf, UInt(salt)]), digest: digest,
                prehash: digest == nil ? "sha256" : nil, pssSalt: salt)
        }
        static func plain(_ name: String, _ key: Key, _ type: UInt, digest: String?, prehash: String? = nil) -> Case {
            Case(
                name: name, key: key, type: CK_MECHANISM_TYPE(type), parameter: [], digest: digest,
                prehash: prehash, pssSalt: nil)
        }
    }

    /// The hashes the mechanisms come in, with what uses each: openssl's name for it; for PSS
    /// the CKM_SHA* hash, its MGF1 and a salt of the hash's length; the RSA PKCS#1, RSA PSS and
    /// ECDSA mechanisms that hash with it.
    static let hashes: [(digest: String, hash: UInt, mgf: UInt, salt: Int, rsa: UInt, pss: UInt, ecdsa: UInt)] = [
        ("sha1", CKM_SHA_1, CKG_MGF1_SHA1, 20, CKM_SHA1_RSA_PKCS, CKM_SHA1_RSA_PKCS_PSS, CKM_ECDSA_SHA1),
        ("sha224", CKM_SHA224, CKG_MGF1_SHA224, 28, CKM_SHA224_RSA_PKCS, CKM_SHA224_RSA_PKCS_PSS, CKM_ECDSA_SHA224),
        ("sha256", CKM_SHA256, CKG_MGF1_SHA256, 32, CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, CKM_ECDSA_SHA256),
        ("sha384", CKM_SHA384, CKG_MGF1_SHA384, 48, CKM_SHA384_RSA_PKCS, CKM_SHA384_RSA_PKCS_PSS, CKM_ECDSA_SHA384),
        ("sha512", CKM_SHA512, CKG_MGF1_SHA512, 64, CKM_SHA512_RSA_PKCS, CKM_SHA512_RSA_PKCS_PSS, CKM_ECDSA_SHA512),
    ]

    /// Each family: the mechanism that signs a digest the caller made, then one per hash.
    static let cases: [Case] = {
        func name(_ type: UInt) -> String { MechanismType(rawValue: type).name }
        var cases: [Case] = [
            .plain("CKM_RSA_PKCS (DigestInfo of SHA-256)", .rsa, CKM_RSA_PKCS, digest: nil, prehash: "sha256")
        ]
        cases += hashes.map { Case.plain(name($0.rsa), .rsa, $0.rsa, digest: $0.digest) }
        cases.append(
            .pss(
                "CKM_RSA_PKCS_PSS (SHA-256 digest)", CKM_RSA_PKCS_PSS, hash: CKM_SHA256, mgf: CKG_MGF1_SHA256, salt: 32,
                digest: nil))
        cases += hashes.map {
            Case.pss(name($0.pss), $0.pss, hash: $0.hash, mgf: $0.mgf, salt: $0.salt, digest: $0.digest)
        }
        cases.append(.plain("CKM_ECDSA (SHA-256 digest)", .ec, CKM_ECDSA, digest: nil, prehash: "sha256"))
        cases += hashes.map { Case.plain(name($0.ecdsa), .ec, $0.ecdsa, digest: $0.digest) }
        return cases
    }()

    /// The keys of one test: openssl's, on the token as a private and a public key object.
    struct Keys {
        let dir: TemporaryDirectory
        let session: Session
        let privateKey: Object
        let publicKey: Object
        /// openssl's private key, PEM.
        var keyFile: String { dir.file("key.pem") }
        /// Its public key, PEM.
        var publicFile: String { dir.file("public.pem") }

        init(_ key: Key) throws {
            dir = try TemporaryDirectory()
            session = try SoftTokenRig.freshSession().session
            let id: [UInt8] = [0x51]
            let pem: String
            switch key {
            case .rsa:
                let rsa = try RSAComponents.generate(bits: 2048, in: dir)
                pem = rsa.pem
                privateKey = try session.createObject(
                    rsa.privateTemplate(label: "rsa", id: id, extraFlags: [Attribute(.token, false)]))
                publicKey = try session.createObject(
                    rsa.publicTemplate(label: "rsa", id: id).filter { $0.type != .token } + [Attribute(.token, false)])
            case .ec:
                let ec = try ECComponents.generate(curve: "prime256v1", in: dir)
                pem = ec.pem
                let common: [Attribute] = [
                    Attribute(.ec), Attribute(.token, false), Attribute(.ecParams, bytes: ec.parameters),
                    Attribute(.id, bytes: id),
                ]
                privateKey = try session.createObject(
                    [Attribute(.privateKey), Attribute(.sign, true), Attribute(.value, bytes: ec.privateValue)]
                        + common)
                publicKey = try session.createObject(
                    [Attribute(.publicKey), Attribute(.verify, true), Attribute(.ecPoint, bytes: ec.point)] + common)
            }
            try pem.write(toFile: keyFile, atomically: true, encoding: .utf8)
            let exported = try run("openssl", ["pkey", "-in", keyFile, "-pubout", "-out", publicFile])
            try #require(exported.status == 0, "\(exported.stderr)")
        }

        func write(_ bytes: [UInt8], _ name: String) throws -> String {
            let path = dir.file(name)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
    }

    /// What the token signs for a case: the message for a hashing mechanism; for the others the
    /// digest (CKM_RSA_PKCS: DigestInfo ‖ digest, as PKCS#1 v1.5 wants).
    static func tokenInput(_ test: Case, message: [UInt8], keys: Keys) throws -> [UInt8] {
        guard let prehash = test.prehash else { return message }
        let digest = try run("openssl", ["dgst", "-\(prehash)", "-binary", try keys.write(message, "message")])
        let hash = [UInt8](digest.stdoutData)
        return test.type == CKM_RSA_PKCS ? hexBytes("3031300d060960864801650304020105000420") + hash : hash
    }

    /// openssl's options for a case's padding.
    static func options(_ test: Case, flag: String) -> [String] {
        guard let salt = test.pssSalt else { return [] }
        return [flag, "rsa_padding_mode:pss", flag, "rsa_pss_saltlen:\(salt)"]
            + (test.digest == nil ? [flag, "digest:sha256"] : [])
    }

    /// True when openssl verifies a token signature (ECDSA's r‖s turned into DER first).
    static func opensslVerifies(_ test: Case, _ signature: [UInt8], message: [UInt8], keys: Keys) throws -> Bool {
        let der = test.key == .ec ? ecdsaDER(signature) : signature
        let signatureFile = try keys.write(der, "token.sig")
        let result: RunResult
        if let digest = test.digest {
            result = try run(
                "openssl",
                ["dgst", "-\(digest)", "-verify", keys.publicFile, "-signature", signatureFile]
                    + options(test, flag: "-sigopt") + [try keys.write(message, "message")])
        } else {
            let input = try keys.write(try tokenInput(test, message: message, keys: keys), "input")
            result = try run(
                "openssl",
                ["pkeyutl", "-verify", "-pubin", "-inkey", keys.publicFile, "-in", input, "-sigfile", signatureFile]
                    + options(test, flag: "-pkeyopt"))
        }
        // `dgst -verify` says "Verified OK", `pkeyutl -verify` "Signature Verified Successfully".
        return result.status == 0 && result.stdout.contains("Verified")
    }

    /// openssl's signature of the message for a case (ECDSA as r‖s, as PKCS#11 gives it).
    static func opensslSignature(_ test: Case, message: [UInt8], keys: Keys) throws -> [UInt8] {
        let out = keys.dir.file("openssl.sig")
        let result: RunResult
        if let digest = test.digest {
            result = try run(
                "openssl",
                ["dgst", "-\(digest)", "-sign", keys.keyFile, "-out", out] + options(test, flag: "-sigopt")
                    + [try keys.write(message, "message")])
        } else {
            let input = try keys.write(try tokenInput(test, message: message, keys: keys), "input")
            result = try run(
                "openssl",
                ["pkeyutl", "-sign", "-inkey", keys.keyFile, "-in", input, "-out", out]
                    + options(test, flag: "-pkeyopt"))
        }
        try #require(result.status == 0, "openssl: \(result.stderr)")
        let signature = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        return test.key == .ec ? try ecdsaRaw(signature, size: 32) : signature
    }

    @Test(
        "each signature mechanism: the token's signatures (one call and in parts) verify with openssl, openssl's on the token",
        arguments: cases)
    func againstOpenSSL(test: Case) throws {
        let keys = try Keys(test.key)
        let message = Array(String(repeating: "signed by the token, checked by openssl. ", count: 30).utf8)
        let input = try Self.tokenInput(test, message: message, keys: keys)
        let session = keys.session

        try session.signInit(test.mechanism, key: keys.privateKey)
        let single = try session.sign(input)
        let multi = try session.signInParts(test.mechanism, key: keys.privateKey, chunks(input))
        #expect(try Self.opensslVerifies(test, single, message: message, keys: keys), "\(test): C_Sign")
        #expect(try Self.opensslVerifies(test, multi, message: message, keys: keys), "\(test): C_SignUpdate/Final")

        let theirs = try Self.opensslSignature(test, message: message, keys: keys)
        if test.deterministic {
            #expect(single == theirs, "\(test): PKCS#1 v1.5 is deterministic; the token's differs from openssl's")
            #expect(multi == theirs, "\(test): in parts")
        }
        #expect(try session.verify(test.mechanism, key: keys.publicKey, data: input, signature: theirs), "\(test)")
        #expect(
            try session.verifyInParts(test.mechanism, key: keys.publicKey, chunks(input), signature: theirs) == CKR_OK,
            "\(test): C_VerifyUpdate/Final")

        // And the checks can fail: another message is refused by both sides.
        var changed = input
        changed[changed.count / 2] ^= 0x01
        #expect(try !session.verify(test.mechanism, key: keys.publicKey, data: changed, signature: theirs))
        #expect(try !Self.opensslVerifies(test, single, message: message + [0x2E], keys: keys), "\(test)")
    }

    /// A message in uneven parts (a hashing mechanism's C_SignUpdate takes any split; one that
    /// signs a digest takes it in parts too, and signs their concatenation).
    func chunks(_ bytes: [UInt8]) -> [[UInt8]] {
        stride(from: 0, to: bytes.count, by: 13).map { Array(bytes[$0..<min($0 + 13, bytes.count)]) }
    }
}

extension Session {
    /// C_SignInit, C_SignUpdate for each part, C_SignFinal (asking the length first).
    func signInParts(_ mechanism: Mechanism, key: Object, _ parts: [[UInt8]]) throws -> [UInt8] {
        let f = slot.module.functions.pointee
        try signInit(mechanism, key: key)
        for var part in parts {
            try #require(f.C_SignUpdate!(handle, &part, CK_ULONG(part.count)) == CKR_OK, "C_SignUpdate")
        }
        var length: CK_ULONG = 0
        try #require(f.C_SignFinal!(handle, nil, &length) == CKR_OK, "C_SignFinal (length)")
        var signature = [UInt8](repeating: 0, count: Int(length))
        try #require(f.C_SignFinal!(handle, &signature, &length) == CKR_OK, "C_SignFinal")
        return Array(signature.prefix(Int(length)))
    }

    /// C_VerifyInit, C_VerifyUpdate for each part, C_VerifyFinal: its return value.
    func verifyInParts(_ mechanism: Mechanism, key: Object, _ parts: [[UInt8]], signature: [UInt8]) throws -> CK_RV {
        let f = slot.module.functions.pointee
        var parameter = mechanism.parameter
        var signature = signature
        return parameter.withUnsafeMutableBytes { raw in
            var mech = CK_MECHANISM(
                mechanism: CK_MECHANISM_TYPE(mechanism.type.rawValue), pParameter: raw.isEmpty ? nil : raw.baseAddress,
                ulParameterLen: CK_ULONG(raw.count))
            guard f.C_VerifyInit!(handle, &mech, key.handle) == CKR_OK else { return CKR_GENERAL_ERROR }
            for var part in parts {
                let rv = f.C_VerifyUpdate!(handle, &part, CK_ULONG(part.count))
                guard rv == CKR_OK else { return rv }
            }
            return f.C_VerifyFinal!(handle, &signature, CK_ULONG(signature.count))
        }
    }
}

/// ECDSA-Sig-Value DER (SEQUENCE of two INTEGERs) from PKCS#11's r‖s.
func ecdsaDER(_ raw: [UInt8]) -> [UInt8] {
    func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var value = Array(bytes.drop(while: { $0 == 0 }))
        if value.isEmpty || value[0] & 0x80 != 0 { value.insert(0, at: 0) }
        return [0x02, UInt8(value.count)] + value
    }
    let half = raw.count / 2
    let body = integer(raw[..<half]) + integer(raw[half...])
    return [0x30, UInt8(body.count)] + body
}

/// PKCS#11's r‖s (each `size` bytes) from ECDSA-Sig-Value DER.
func ecdsaRaw(_ der: [UInt8], size: Int) throws -> [UInt8] {
    try #require(der.count > 2 && der[0] == 0x30 && Int(der[1]) == der.count - 2, "ECDSA-Sig-Value")
    var out: [UInt8] = []
    var at = 2
    for _ in 0..<2 {
        try #require(at + 2 <= der.count && der[at] == 0x02, "INTEGER")
        let length = Int(der[at + 1])
        try #require(at + 2 + length <= der.count, "INTEGER length")
        let value = Array(der[(at + 2)..<(at + 2 + length)].drop(while: { $0 == 0 }))
        try #require(value.count <= size, "INTEGER size")
        out += [UInt8](repeating: 0, count: size - value.count) + value
        at += 2 + length
    }
    return out
}
