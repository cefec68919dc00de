internal import COpenSSL

/// Software halves of the PKCS#11 key wraps CertBridge uses to take an exportable key off a
/// token: the token wraps under a one-time AES key (C_WrapKey), and the key is unwrapped here,
/// in memory, never touching disk.
public enum KeyWrap {
    /// Why a key could not be wrapped or unwrapped.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// One sentence for a person.
        public let description: String
    }

    /// AES key wrap with padding (RFC 5649, CKM_AES_KEY_WRAP_PAD), undone.
    public static func unwrapAESKeyWrapPad(key: [UInt8], wrapped: [UInt8]) throws(Failure) -> [UInt8] {
        try crypt(
            cipher: aesWrapPad(bits: key.count * 8), key: key, iv: nil, input: wrapped, padding: false,
            name: "AES key unwrap")
    }

    /// AES-CBC with PKCS#7 padding (CKM_AES_CBC_PAD), decrypted.
    public static func decryptAESCBCPad(key: [UInt8], iv: [UInt8], ciphertext: [UInt8]) throws(Failure) -> [UInt8] {
        try crypt(
            cipher: aesCBC(bits: key.count * 8), key: key, iv: iv, input: ciphertext, padding: true,
            name: "AES-CBC decryption")
    }

    private static func aesWrapPad(bits: Int) -> OpaquePointer? {
        switch bits {
        case 128: EVP_aes_128_wrap_pad()
        case 192: EVP_aes_192_wrap_pad()
        default: EVP_aes_256_wrap_pad()
        }
    }

    private static func aesCBC(bits: Int) -> OpaquePointer? {
        switch bits {
        case 128: EVP_aes_128_cbc()
        case 192: EVP_aes_192_cbc()
        default: EVP_aes_256_cbc()
        }
    }

    private static func crypt(
        cipher: OpaquePointer?, key: [UInt8], iv: [UInt8]?, input: [UInt8], padding: Bool, name: String
    ) throws(Failure) -> [UInt8] {
        guard [16, 24, 32].contains(key.count), let context = EVP_CIPHER_CTX_new() else {
            throw Failure(description: "\(name): bad key length \(key.count)")
        }
        defer { EVP_CIPHER_CTX_free(context) }
        EVP_CIPHER_CTX_set_flags(context, Int32(EVP_CIPHER_CTX_FLAG_WRAP_ALLOW))
        var output = [UInt8](repeating: 0, count: input.count + 32)
        var written: Int32 = 0
        var final: Int32 = 0
        let ok = key.withUnsafeBufferPointer { keyBytes in
            (iv ?? []).withUnsafeBufferPointer { ivBytes in
                EVP_DecryptInit_ex(context, cipher, nil, keyBytes.baseAddress, iv == nil ? nil : ivBytes.baseAddress)
                    == 1
                    && EVP_CIPHER_CTX_set_padding(context, padding ? 1 : 0) == 1
                    && EVP_DecryptUpdate(context, &output, &written, input, Int32(input.count)) == 1
                    && output.withUnsafeMutableBufferPointer {
                        EVP_DecryptFinal_ex(context, $0.baseAddress! + Int(written), &final)
                    } == 1
            }
        }
        guard ok else {
            CB_OPENSSL_cleanse(&output, output.count)
            ERR_clear_error()
            throw Failure(description: "\(name) failed: the wrapped key is damaged or the key is wrong")
        }
        let length = Int(written + final)
        let result = Array(output.prefix(length))
        CB_OPENSSL_cleanse(&output, output.count)
        return result
    }
}
