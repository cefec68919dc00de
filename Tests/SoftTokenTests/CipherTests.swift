internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// C_Encrypt* and C_Decrypt* on the software token, each mechanism checked against OpenSSL's
/// own answer for the same key and input: AES through Python's `cryptography` (libcrypto),
/// RSA through `openssl pkeyutl`.
@Suite("software token encryption and decryption against OpenSSL")
struct CipherTests {
    /// One session's function table and handle, for the calls the PKCS11 layer does not wrap.
    struct Raw {
        let functions: CK_FUNCTION_LIST
        let handle: CK_SESSION_HANDLE
        init(_ session: Session) {
            functions = session.slot.module.functions.pointee
            handle = session.handle
        }

        /// Encrypts or decrypts `data`: single-part, or in `chunk`-byte Updates and a Final.
        /// `room` gives the output buffer size of a single-part call (default: asked first).
        func crypt(
            _ encrypt: Bool, _ mechanism: inout CK_MECHANISM, key: CK_OBJECT_HANDLE, _ data: [UInt8],
            chunk: Int? = nil, room: Int? = nil
        ) -> (rv: CK_RV, output: [UInt8]) {
            var input = data
            let initRV =
                encrypt
                ? functions.C_EncryptInit!(handle, &mechanism, key) : functions.C_DecryptInit!(handle, &mechanism, key)
            guard initRV == CKR_OK else { return (initRV, []) }
            guard let chunk else {
                var length = CK_ULONG(room ?? 0)
                if room == nil {
                    let rv =
                        encrypt
                        ? functions.C_Encrypt!(handle, &input, CK_ULONG(input.count), nil, &length)
                        : functions.C_Decrypt!(handle, &input, CK_ULONG(input.count), nil, &length)
                    guard rv == CKR_OK else { return (rv, []) }
                }
                var out = [UInt8](repeating: 0, count: Int(length))
                let rv =
                    encrypt
                    ? functions.C_Encrypt!(handle, &input, CK_ULONG(input.count), &out, &length)
                    : functions.C_Decrypt!(handle, &input, CK_ULONG(input.count), &out, &length)
                return (rv, Array(out.prefix(Int(length))))
            }
            var result: [UInt8] = []
            var start = 0
            while start < input.count {
                var part = Array(input[start..<min(start + chunk, input.count)])
                var out = [UInt8](repeating: 0, count: part.count + 32)
                var length = CK_ULONG(out.count)
                let rv =
                    encrypt
                    ? functions.C_EncryptUpdate!(handle, &part, CK_ULONG(part.count), &out, &length)
                    : functions.C_DecryptUpdate!(handle, &part, CK_ULONG(part.count), &out, &length)
                guard rv == CKR_OK else { return (rv, result) }
                result += out.prefix(Int(length))
                start += chunk
            }
            var out = [UInt8](repeating: 0, count: 64)
            var length = CK_ULONG(out.count)
            let rv =
                encrypt
                ? functions.C_EncryptFinal!(handle, &out, &length) : functions.C_DecryptFinal!(handle, &out, &length)
            return (rv, result + out.prefix(Int(length)))
        }
    }

    /// OpenSSL's AES answer (encryption) from Python's `cryptography`, which runs libcrypto.
    static func reference(
        mode: String, key: [UInt8], iv: [UInt8], data: [UInt8], aad: [UInt8] = [], tagLength: Int = 16
    ) throws -> [UInt8] {
        let script = """
            import sys
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
            from cryptography.hazmat.primitives import padding
            mode, key, iv, data, aad, tag = sys.argv[1], *[bytes.fromhex(a) for a in sys.argv[2:6]], int(sys.argv[6])
            if mode == "CBC_PAD":
                p = padding.PKCS7(128).padder(); data = p.update(data) + p.finalize(); mode = "CBC"
            m = {"ECB": lambda: modes.ECB(), "CBC": lambda: modes.CBC(iv), "CTR": lambda: modes.CTR(iv), "GCM": lambda: modes.GCM(iv)}[mode]()
            e = Cipher(algorithms.AES(key), m).encryptor()
            if mode == "GCM": e.authenticate_additional_data(aad)
            out = e.update(data) + e.finalize()
            if mode == "GCM": out += e.tag[:tag]
            print(out.hex())
            """
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        let result = try run(
            python,
            ["-c", script, mode, hexString(key), hexString(iv), hexString(data), hexString(aad), "\(tagLength)"])
        guard result.status == 0 else { throw TestSupportError("python cryptography: \(result.stderr)") }
        return hexBytes(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func aesKey(_ session: Session, _ value: [UInt8]) throws -> Object {
        try session.createObject([
            Attribute(.secretKey), Attribute(.aes), Attribute(.token, false), Attribute(.value, bytes: value),
            Attribute(.encrypt, true), Attribute(.decrypt, true),
        ])
    }

    @Test(
        "AES ECB, CBC, CBC_PAD and CTR: single- and multi-part ciphertext equals OpenSSL's, and decrypts back",
        arguments: [
            (CKM_AES_ECB, "ECB", 48), (CKM_AES_CBC, "CBC", 64), (CKM_AES_CBC_PAD, "CBC_PAD", 37),
            (CKM_AES_CBC_PAD, "CBC_PAD", 32), (CKM_AES_CTR, "CTR", 37),
        ], [16, 32])
    func aesModes(mechanismCase: (CK_MECHANISM_TYPE, String, Int), keySize: Int) throws {
        let (mechanismType, mode, size) = mechanismCase
        let (_, session) = try SoftTokenRig.freshSession()
        let raw = Raw(session)
        let keyValue = (0..<keySize).map { _ in UInt8.random(in: 0...255) }
        let key = try Self.aesKey(session, keyValue)
        let iv = mode == "ECB" ? [] : (0..<16).map { _ in UInt8.random(in: 0...255) }
        let data = (0..<size).map { _ in UInt8.random(in: 0...255) }
        let expected = try Self.reference(mode: mode, key: keyValue, iv: iv, data: data)
        try withMechanism(mechanismType, iv: iv, counter: mode == "CTR") { mechanism in
            let single = raw.crypt(true, &mechanism, key: key.handle, data)
            #expect(single.rv == CKR_OK)
            #expect(single.output == expected, "\(mode) single-part")
            let multi = raw.crypt(true, &mechanism, key: key.handle, data, chunk: 7)
            #expect(multi.rv == CKR_OK)
            #expect(multi.output == expected, "\(mode) multi-part")
            // Decryption into a buffer exactly as long as the plaintext is CKR_OK.
            let back = raw.crypt(false, &mechanism, key: key.handle, expected, room: data.count)
            #expect(back.rv == CKR_OK)
            #expect(back.output == data)
            #expect(raw.crypt(false, &mechanism, key: key.handle, expected, chunk: 5).output == data)
        }
    }

    @Test(
        "AES-GCM with AAD and tags of 12 to 16 bytes equals OpenSSL's; a changed tag is CKR_ENCRYPTED_DATA_INVALID",
        arguments: [12, 16])
    func aesGCM(tagLength: Int) throws {
        let (_, session) = try SoftTokenRig.freshSession()
        let raw = Raw(session)
        let keyValue = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let key = try Self.aesKey(session, keyValue)
        var iv = (0..<12).map { _ in UInt8.random(in: 0...255) }
        var aad = Array("header".utf8)
        let data = (0..<45).map { _ in UInt8.random(in: 0...255) }
        let expected = try Self.reference(
            mode: "GCM", key: keyValue, iv: iv, data: data, aad: aad, tagLength: tagLength)
        iv.withUnsafeMutableBufferPointer { ivBuffer in
            aad.withUnsafeMutableBufferPointer { aadBuffer in
                var params = CK_GCM_PARAMS(
                    pIv: ivBuffer.baseAddress, ulIvLen: 12, ulIvBits: 96, pAAD: aadBuffer.baseAddress,
                    ulAADLen: CK_ULONG(aadBuffer.count), ulTagBits: CK_ULONG(tagLength * 8))
                withUnsafeMutableBytes(of: &params) { bytes in
                    var mechanism = CK_MECHANISM(
                        mechanism: CKM_AES_GCM, pParameter: bytes.baseAddress, ulParameterLen: CK_ULONG(bytes.count))
                    #expect(raw.crypt(true, &mechanism, key: key.handle, data).output == expected)
                    #expect(raw.crypt(true, &mechanism, key: key.handle, data, chunk: 10).output == expected)
                    #expect(raw.crypt(false, &mechanism, key: key.handle, expected).output == data)
                    #expect(raw.crypt(false, &mechanism, key: key.handle, expected, chunk: 16).output == data)
                    var tampered = expected
                    tampered[tampered.count - 1] ^= 1
                    #expect(raw.crypt(false, &mechanism, key: key.handle, tampered).rv == CKR_ENCRYPTED_DATA_INVALID)
                }
            }
        }
    }

    /// Runs `body` with a mechanism whose parameter is the IV (or a CK_AES_CTR_PARAMS with it).
    func withMechanism(
        _ type: CK_MECHANISM_TYPE, iv: [UInt8], counter: Bool, _ body: (inout CK_MECHANISM) throws -> Void
    ) throws {
        var parameter = iv
        if counter {
            var params = CK_AES_CTR_PARAMS()
            params.ulCounterBits = 128
            withUnsafeMutableBytes(of: &params.cb) { $0.copyBytes(from: iv) }
            parameter = withUnsafeBytes(of: params) { Array($0) }
        }
        try parameter.withUnsafeMutableBytes { bytes in
            var mechanism = CK_MECHANISM(
                mechanism: type, pParameter: bytes.isEmpty ? nil : bytes.baseAddress,
                ulParameterLen: CK_ULONG(bytes.count))
            try body(&mechanism)
        }
    }

    @Test(
        "RSA PKCS#1 v1.5 and OAEP (SHA-1…SHA-512, own MGF1 hash, label): the token's ciphertext opens with openssl pkeyutl, openssl's opens on the token into plaintext+8 bytes",
        arguments: [
            (CKM_RSA_PKCS, CKM_SHA_1, CKG_MGF1_SHA1, "", ""),
            (CKM_RSA_PKCS_OAEP, CKM_SHA_1, CKG_MGF1_SHA1, "sha1", "sha1"),
            (CKM_RSA_PKCS_OAEP, CKM_SHA256, CKG_MGF1_SHA1, "sha256", "sha1"),
            (CKM_RSA_PKCS_OAEP, CKM_SHA384, CKG_MGF1_SHA384, "sha384", "sha384"),
            (CKM_RSA_PKCS_OAEP, CKM_SHA512, CKG_MGF1_SHA256, "sha512", "sha256"),
            (CKM_RSA_PKCS_OAEP, CKM_SHA224, CKG_MGF1_SHA224, "sha224", "sha224"),
        ])
    func rsa(
        mechanismType: CK_MECHANISM_TYPE, hash: CK_MECHANISM_TYPE, mgf: CK_ULONG, opensslHash: String,
        opensslMGF: String
    ) throws {
        let dir = try TemporaryDirectory()
        let components = try RSAComponents.generate(bits: 2048, in: dir)
        let pem = try dir.write("key.pem", components.pem)
        let (_, session) = try SoftTokenRig.freshSession()
        let raw = Raw(session)
        let privateKey = try session.createObject(
            components.privateTemplate(label: "rsa", id: [1], extraFlags: [Attribute(.decrypt, true)]))
        let publicKey = try session.createObject(
            components.publicTemplate(label: "rsa", id: [1]) + [Attribute(.encrypt, true)])
        let oaep = mechanismType == CKM_RSA_PKCS_OAEP
        var label = Array("the label".utf8)
        let plain = Array("a secret of some thirty-two bytes".utf8)
        var options = ["-pkeyopt", "rsa_padding_mode:\(oaep ? "oaep" : "pkcs1")"]
        if oaep {
            options += [
                "-pkeyopt", "rsa_oaep_md:\(opensslHash)", "-pkeyopt", "rsa_mgf1_md:\(opensslMGF)",
                "-pkeyopt", "rsa_oaep_label:\(hexString(label))",
            ]
        }
        try label.withUnsafeMutableBytes { labelBytes in
            var params = CK_RSA_PKCS_OAEP_PARAMS(
                hashAlg: hash, mgf: mgf, source: CK_ULONG(CKZ_DATA_SPECIFIED),
                pSourceData: labelBytes.baseAddress, ulSourceDataLen: CK_ULONG(labelBytes.count))
            try withUnsafeMutableBytes(of: &params) { paramBytes in
                var mechanism = CK_MECHANISM(
                    mechanism: mechanismType, pParameter: oaep ? paramBytes.baseAddress : nil,
                    ulParameterLen: oaep ? CK_ULONG(paramBytes.count) : 0)
                let encrypted = raw.crypt(true, &mechanism, key: publicKey.handle, plain)
                #expect(encrypted.rv == CKR_OK)
                #expect(encrypted.output.count == 256)
                let cipherFile = dir.file("token.bin")
                try Data(encrypted.output).write(to: URL(fileURLWithPath: cipherFile))
                let opened = try run("openssl", ["pkeyutl", "-decrypt", "-inkey", pem, "-in", cipherFile] + options)
                #expect(opened.status == 0, "\(opened.stderr)")
                #expect(Array(opened.stdoutData) == plain)

                let plainFile = try dir.write("plain.txt", String(decoding: plain, as: UTF8.self))
                let sealed = try run("openssl", ["pkeyutl", "-encrypt", "-inkey", pem, "-in", plainFile] + options)
                #expect(sealed.status == 0, "\(sealed.stderr)")
                let decrypted = raw.crypt(
                    false, &mechanism, key: privateKey.handle, Array(sealed.stdoutData), room: plain.count + 8)
                #expect(decrypted.rv == CKR_OK)
                #expect(decrypted.output == plain)
                // Too small for the plaintext: CKR_BUFFER_TOO_SMALL, the exact length, the operation kept.
                var short = [UInt8](repeating: 0, count: 8)
                var shortLength: CK_ULONG = 8
                var input = Array(sealed.stdoutData)
                #expect(raw.functions.C_DecryptInit!(raw.handle, &mechanism, privateKey.handle) == CKR_OK)
                #expect(
                    raw.functions.C_Decrypt!(raw.handle, &input, CK_ULONG(input.count), &short, &shortLength)
                        == CKR_BUFFER_TOO_SMALL)
                #expect(shortLength == CK_ULONG(plain.count))
                var fits = [UInt8](repeating: 0, count: Int(shortLength))
                #expect(
                    raw.functions.C_Decrypt!(raw.handle, &input, CK_ULONG(input.count), &fits, &shortLength) == CKR_OK)
                #expect(fits == plain)
            }
        }
    }

    @Test("C_GetMechanismInfo: RSA PKCS#1 and OAEP offer CKF_ENCRYPT and CKF_DECRYPT; AES modes 16–32-byte keys")
    func mechanismFlags() throws {
        let (_, session) = try SoftTokenRig.freshSession()
        let functions = session.slot.module.functions.pointee
        func info(_ type: CK_MECHANISM_TYPE) -> CK_MECHANISM_INFO {
            var value = CK_MECHANISM_INFO()
            _ = functions.C_GetMechanismInfo!(session.slot.id, type, &value)
            return value
        }
        for type in [CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP] {
            #expect(info(type).flags & CK_FLAGS(CKF_ENCRYPT | CKF_DECRYPT) == CK_FLAGS(CKF_ENCRYPT | CKF_DECRYPT))
        }
        for type in [CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_CTR, CKM_AES_GCM] {
            let value = info(type)
            #expect(value.flags == CK_FLAGS(CKF_ENCRYPT | CKF_DECRYPT))
            #expect(value.ulMinKeySize == 16 && value.ulMaxKeySize == 32)
        }
    }
}
