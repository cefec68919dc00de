internal import COpenSSL

/// The symmetric ciphers CMS uses for content (RFC 3565 AES-CBC, RFC 5084 AES-GCM, RFC 3370
/// 3DES-CBC), run in memory over OpenSSL's EVP interface.
public enum ContentCipher {
    /// The OpenSSL name of the cipher a CMS contentEncryptionAlgorithm OID names, nil for one
    /// CertBridge does not decrypt.
    public static func name(forOID oid: String) -> String? {
        switch oid {
        case "2.16.840.1.101.3.4.1.2": "AES-128-CBC"
        case "2.16.840.1.101.3.4.1.22": "AES-192-CBC"
        case "2.16.840.1.101.3.4.1.42": "AES-256-CBC"
        case "2.16.840.1.101.3.4.1.6": "id-aes128-GCM"
        case "2.16.840.1.101.3.4.1.26": "id-aes192-GCM"
        case "2.16.840.1.101.3.4.1.46": "id-aes256-GCM"
        case "1.2.840.113549.3.7": "DES-EDE3-CBC"
        default: nil
        }
    }

    /// The key length in bytes of the cipher an OID names.
    public static func keyLength(forOID oid: String) -> Int? {
        guard let name = name(forOID: oid) else { return nil }
        OpenSSLRuntime.ensureLoaded()
        guard let cipher = EVP_get_cipherbyname(name) else { return nil }
        return Int(EVP_CIPHER_get_key_length(cipher))
    }

    /// Decrypts `ciphertext` with the content-encryption key. For CBC the IV is the algorithm's
    /// parameter and the padding is checked; for GCM `iv` is the nonce and `tag` the MAC of
    /// AuthEnvelopedData, checked with `additionalData` (the DER of its authAttrs, if any).
    /// `padded: false` is for key wrap (RFC 3217), which decrypts whole blocks without padding.
    public static func decrypt(
        oid: String, key: [UInt8], iv: [UInt8], ciphertext: [UInt8], tag: [UInt8]? = nil,
        additionalData: [UInt8] = [], padded: Bool = true
    ) throws(PKCS12Error) -> [UInt8] {
        OpenSSLRuntime.ensureLoaded()
        guard let name = name(forOID: oid), let cipher = EVP_get_cipherbyname(name) else {
            throw PKCS12Error(
                .unsupportedAlgorithm, "content encryption \(oid) is not supported (AES-CBC, AES-GCM and 3DES-CBC are)")
        }
        guard key.count == Int(EVP_CIPHER_get_key_length(cipher)) else {
            throw PKCS12Error(
                .corrupt, "the content key is \(key.count) bytes; \(name) needs \(EVP_CIPHER_get_key_length(cipher))")
        }
        let gcm = name.hasSuffix("GCM")
        if gcm, tag == nil { throw PKCS12Error(.corrupt, "AES-GCM content without its authentication tag") }
        if !gcm, iv.count != Int(EVP_CIPHER_get_iv_length(cipher)) {
            throw PKCS12Error(
                .corrupt, "the IV is \(iv.count) bytes; \(name) needs \(EVP_CIPHER_get_iv_length(cipher))")
        }
        guard let context = EVP_CIPHER_CTX_new() else {
            throw OpenSSLRuntime.error(.openSSL, "no cipher context", function: "EVP_CIPHER_CTX_new")
        }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_DecryptInit_ex(context, cipher, nil, nil, nil) == 1 else {
            throw OpenSSLRuntime.error(.openSSL, "cannot start \(name)", function: "EVP_DecryptInit_ex")
        }
        if gcm {
            guard !iv.isEmpty, EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(iv.count), nil) == 1 else {
                throw OpenSSLRuntime.error(.corrupt, "the GCM nonce is not usable", function: "EVP_CIPHER_CTX_ctrl")
            }
        }
        guard EVP_DecryptInit_ex(context, nil, nil, key, iv) == 1 else {
            throw OpenSSLRuntime.error(.openSSL, "cannot key \(name)", function: "EVP_DecryptInit_ex")
        }
        if !padded { EVP_CIPHER_CTX_set_padding(context, 0) }
        var length: Int32 = 0
        if gcm, !additionalData.isEmpty {
            guard EVP_DecryptUpdate(context, nil, &length, additionalData, Int32(additionalData.count)) == 1 else {
                throw OpenSSLRuntime.error(
                    .corrupt, "the authenticated attributes were refused", function: "EVP_DecryptUpdate")
            }
        }
        var out = [UInt8](repeating: 0, count: ciphertext.count + Int(EVP_CIPHER_get_block_size(cipher)) + 16)
        guard ciphertext.count < Int(Int32.max),
            EVP_DecryptUpdate(context, &out, &length, ciphertext, Int32(ciphertext.count)) == 1
        else {
            throw OpenSSLRuntime.error(.corrupt, "the content does not decrypt", function: "EVP_DecryptUpdate")
        }
        var total = Int(length)
        if gcm, var tag {
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tag.count), &tag) == 1 else {
                throw OpenSSLRuntime.error(.corrupt, "the GCM tag is not usable", function: "EVP_CIPHER_CTX_ctrl")
            }
        }
        let final = out.withUnsafeMutableBufferPointer { buffer in
            EVP_DecryptFinal_ex(context, buffer.baseAddress! + total, &length)
        }
        guard final == 1 else {
            _ = OpenSSLRuntime.drainErrors()
            throw PKCS12Error(
                .corrupt,
                gcm
                    ? "the content's authentication tag does not match: altered, or not for this key"
                    : "the content does not decrypt (bad padding): altered, or not for this key")
        }
        total += Int(length)
        return Array(out.prefix(total))
    }
}
