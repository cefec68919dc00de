internal import COpenSSL

/// Pure EdDSA (RFC 8032) over a SubjectPublicKeyInfo, with OpenSSL: swift-certificates reads no
/// Ed448 key, so Ed25519 and Ed448 signatures are both checked here, the way
/// `openssl pkeyutl -verify -rawin` checks them.
extension PublicKeyInfo {
    /// The Edwards curve of a SubjectPublicKeyInfo (`Ed25519` or `Ed448`), or nil for any other
    /// key or for bytes that are not one (`EVP_PKEY_is_a`).
    public static func edwardsCurve(of publicKeyInfo: [UInt8]) -> String? {
        guard let key = try? KeyHandle(publicKeyInfo: publicKeyInfo) else { return nil }
        defer { ERR_clear_error() }
        if EVP_PKEY_is_a(key.pointer, "ED25519") == 1 { return "Ed25519" }
        if EVP_PKEY_is_a(key.pointer, "ED448") == 1 { return "Ed448" }
        return nil
    }

    /// Whether `signature` is a valid Ed25519 or Ed448 signature of the whole `message` under the
    /// key in `publicKeyInfo` (`EVP_DigestVerifyInit` with no digest, `EVP_DigestVerify`). A
    /// signature of the wrong length is simply not valid; a key that is not an Edwards key is
    /// an error.
    public static func isValidEdDSASignature(
        _ signature: [UInt8], of message: [UInt8],
        publicKeyInfo: [UInt8]
    ) throws(PKCS12Error) -> Bool {
        guard edwardsCurve(of: publicKeyInfo) != nil else {
            throw PKCS12Error(.unsupportedAlgorithm, "the public key is not an Ed25519 or Ed448 key")
        }
        let key = try KeyHandle(publicKeyInfo: publicKeyInfo)
        guard let context = EVP_MD_CTX_new() else {
            throw OpenSSLRuntime.error(.openSSL, "out of memory", function: "EVP_MD_CTX_new")
        }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key.pointer) == 1 else {
            throw OpenSSLRuntime.error(.openSSL, "EdDSA verification could not start", function: "EVP_DigestVerifyInit")
        }
        let result = EVP_DigestVerify(context, signature, signature.count, message, message.count)
        // 0 is a bad signature, a negative value a malformed one: neither is valid.
        ERR_clear_error()
        return result == 1
    }
}
