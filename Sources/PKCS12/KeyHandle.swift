internal import COpenSSL

/// Owns one OpenSSL `EVP_PKEY`; frees it on release (`EVP_PKEY_free` wipes private material).
final class KeyHandle {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// Parses a SubjectPublicKeyInfo (`d2i_PUBKEY`); trailing bytes are an error.
    convenience init(publicKeyInfo der: [UInt8]) throws(PKCS12Error) {
        OpenSSLRuntime.ensureLoaded()
        guard let parsed = OpenSSLRuntime.decodeWhole(der, { d2i_PUBKEY(nil, $0, $1) }, free: EVP_PKEY_free) else {
            throw OpenSSLRuntime.error(.corrupt, "not a SubjectPublicKeyInfo", function: "d2i_PUBKEY")
        }
        self.init(owning: parsed)
    }

    /// The public half as SubjectPublicKeyInfo DER (`i2d_PUBKEY`).
    var publicKeyInfo: [UInt8] { OpenSSLRuntime.der { i2d_PUBKEY(pointer, $0) } ?? [] }

    /// Whether both hold the same public key (`EVP_PKEY_eq`).
    func samePublicKey(as other: KeyHandle) -> Bool {
        defer { ERR_clear_error() }
        return EVP_PKEY_eq(pointer, other.pointer) == 1
    }
}
