import COpenSSL
import PKCS12
import Testing

/// PBES2 with PBKDF2-HMAC-SHA1, as OpenSSL 1.1 and Java wrote AES-protected keys. The `openssl`
/// 3 command cannot choose the PRF, so this file is assembled with libcrypto directly.
@Suite struct PBKDF2SHA1Tests {
    let pki = TestPKI.shared

    /// A PFX whose key bag is PBES2/AES-256-CBC/PBKDF2-HMAC-SHA1 and whose certificate part is
    /// OpenSSL's default PBES2, with a SHA-256 MAC.
    private func makeFile(kind: LeafKind, password: String) throws -> [UInt8] {
        let keyBIO = try #require(BIO_new_file(pki.url("\(kind.rawValue).key").path, "r"))
        defer { BIO_free(keyBIO) }
        let key = try #require(PEM_read_bio_PrivateKey(keyBIO, nil, nil, nil))
        defer { EVP_PKEY_free(key) }
        let certBIO = try #require(BIO_new_file(pki.url("\(kind.rawValue).pem").path, "r"))
        defer { BIO_free(certBIO) }
        let cert = try #require(PEM_read_bio_X509(certBIO, nil, nil, nil))
        defer { X509_free(cert) }

        let info = try #require(EVP_PKEY2PKCS8(key))
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        let pbe = try #require(PKCS5_pbe2_set_iv_ex(EVP_aes_256_cbc(), 4096, nil, 0, nil, NID_hmacWithSHA1, nil))
        let shrouded = try #require(PKCS8_set0_pbe_ex(password, Int32(password.utf8.count), info, pbe, nil, nil))
        let keyBag = try #require(PKCS12_SAFEBAG_create0_pkcs8(shrouded))
        let keyBags = try #require(OPENSSL_sk_new_null())
        #expect(OPENSSL_sk_push(keyBags, UnsafeRawPointer(keyBag)) > 0)
        defer { CB_sk_PKCS12_SAFEBAG_pop_free(keyBags) }

        var certBags: OpaquePointer? = nil
        #expect(PKCS12_add_cert(&certBags, cert) != nil)
        defer { CB_sk_PKCS12_SAFEBAG_pop_free(certBags) }

        var safes: OpaquePointer? = nil
        #expect(PKCS12_add_safe_ex(&safes, certBags, NID_aes_256_cbc, 4096, password, nil, nil) == 1)
        #expect(PKCS12_add_safe_ex(&safes, keyBags, -1, 0, nil, nil, nil) == 1)
        defer { CB_sk_PKCS7_pop_free(safes) }
        let pkcs12 = try #require(PKCS12_add_safes_ex(safes, 0, nil, nil))
        defer { PKCS12_free(pkcs12) }
        #expect(PKCS12_set_mac(pkcs12, password, -1, nil, 0, 4096, EVP_sha256()) == 1)
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_PKCS12(pkcs12, &out)
        let bytes = try #require(out.map { Array(UnsafeBufferPointer(start: $0, count: Int(length))) })
        CB_OPENSSL_free(out)
        return bytes
    }

    @Test("a PBKDF2-HMAC-SHA1 key bag opens and is named so")
    func opens() throws {
        let pfx = try makeFile(kind: .p256, password: "secret")
        #expect(try pki.info(pfx, password: "secret").contains("PRF hmacWithSHA1"))
        let backup = try PFX.open(pfx, password: Secret(utf8: "secret"))
        #expect(backup.privateKey.type == .ec(.p256))
        #expect(backup.certificate.subject == TestPKI.leafSubject(.p256))
        #expect(backup.inspection.keyEncryption?.algorithm == "PBES2/AES-256-CBC/PBKDF2-HMAC-SHA1")
        #expect(backup.inspection.keyEncryption?.iterations == 4096)
        #expect(backup.inspection.certificateEncryption?.algorithm == "PBES2/AES-256-CBC/PBKDF2-HMAC-SHA256")
        #expect(throws: PKCS12Error.wrongPassword) { try PFX.open(pfx, password: Secret(utf8: "other")) }
    }
}
