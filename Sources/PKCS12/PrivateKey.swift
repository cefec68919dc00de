internal import COpenSSL

/// What kind of key a private key is.
public enum KeyType: Hashable, Sendable, CustomStringConvertible {
    case rsa
    case ec(Curve)
    /// An Edwards-curve key for EdDSA: `Ed25519` or `Ed448`.
    case edwards(String)

    /// The key's kind (never its value).
    public var description: String {
        switch self {
        case .rsa: "RSA"
        case .ec(let curve): "EC \(curve)"
        case .edwards(let curve): "EdDSA \(curve)"
        }
    }
}

/// The public half, in the shape PKCS#11 attributes want it.
public enum PublicKey: Hashable, Sendable {
    /// CKA_MODULUS and CKA_PUBLIC_EXPONENT, big-endian.
    case rsa(modulus: [UInt8], publicExponent: [UInt8])
    /// CKA_EC_PARAMS (named-curve OID, DER) and CKA_EC_POINT (uncompressed point in a DER OCTET STRING).
    case ec(parameters: [UInt8], point: [UInt8])
    /// CKK_EC_EDWARDS: CKA_EC_PARAMS (the curve's OID, DER) and CKA_EC_POINT (the raw public
    /// key in a DER OCTET STRING).
    case edwards(parameters: [UInt8], point: [UInt8])
}

/// The private components for C_CreateObject, big-endian. The pointers are valid only inside
/// the closure that receives them (`PrivateKey.withPrivateComponents`).
public enum PrivateComponents {
    /// CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT.
    case rsa(
        privateExponent: UnsafeRawBufferPointer, prime1: UnsafeRawBufferPointer,
        prime2: UnsafeRawBufferPointer, exponent1: UnsafeRawBufferPointer,
        exponent2: UnsafeRawBufferPointer, coefficient: UnsafeRawBufferPointer)
    /// CKA_VALUE: the private scalar, left-padded to the curve's size.
    case ec(value: UnsafeRawBufferPointer)
    /// CKA_VALUE of an Edwards key: the raw private key (32 bytes for Ed25519, 57 for Ed448).
    case edwards(value: UnsafeRawBufferPointer)
}

/// An RSA or EC private key, held as PKCS#8 and as raw components in memory that is wiped
/// (`OPENSSL_cleanse`) when the key is released.
public final class PrivateKey: @unchecked Sendable {
    /// RSA, or EC with its curve.
    public let type: KeyType
    /// Key size in bits (`EVP_PKEY_get_bits`).
    public let bits: Int
    /// The public key, for CKA_MODULUS/CKA_PUBLIC_EXPONENT or CKA_EC_PARAMS/CKA_EC_POINT.
    public let publicKey: PublicKey
    /// SubjectPublicKeyInfo DER, as `i2d_PUBKEY` writes it (`PublicKeyInfo.der(of:)`).
    public let publicKeyInfo: [UInt8]

    // Immutable after init and never handed out except inside closures: safe to share.
    private let pkcs8: SecretBytes
    private let components: [SecretBytes]

    /// Reads a PKCS#8 PrivateKeyInfo DER (`d2i_PKCS8_PRIV_KEY_INFO`, `EVP_PKCS82PKEY`).
    ///
    /// Bytes after the DER element are ignored, so a key unwrapped with CKM_AES_KEY_WRAP_PAD
    /// (zero-padded to 8 bytes) can be passed as is. The caller wipes `der`.
    public convenience init(pkcs8DER der: [UInt8]) throws(PKCS12Error) {
        OpenSSLRuntime.ensureLoaded()
        let info: OpaquePointer? = der.withUnsafeBytes { buffer in
            guard let length = derElementLength(buffer), buffer[0] == 0x30 else { return nil }
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
            let start = cursor
            guard let info = d2i_PKCS8_PRIV_KEY_INFO(nil, &cursor, length) else { return nil }
            guard cursor == start.map({ $0 + length }) else {
                PKCS8_PRIV_KEY_INFO_free(info)
                return nil
            }
            return info
        }
        guard let info else {
            throw OpenSSLRuntime.error(.corrupt, "not a PKCS#8 private key", function: "d2i_PKCS8_PRIV_KEY_INFO")
        }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        try self.init(pkcs8Info: info)
    }

    /// Reads a decoded PKCS#8 structure; the caller still owns and frees `info`.
    convenience init(pkcs8Info info: OpaquePointer) throws(PKCS12Error) {
        guard let key = EVP_PKCS82PKEY(info) else {
            // RSA and EC keys OpenSSL cannot decode are damaged; any other type is one we do not
            // take anyway.
            var object: OpaquePointer? = nil
            PKCS8_pkey_get0(&object, nil, nil, nil, info)
            let nid = object.map(OBJ_obj2nid) ?? NID_undef
            if nid == NID_rsaEncryption || nid == NID_X9_62_id_ecPublicKey {
                throw OpenSSLRuntime.error(.corrupt, "damaged private key", function: "EVP_PKCS82PKEY")
            }
            throw OpenSSLRuntime.error(
                .unsupportedAlgorithm,
                "\(OpenSSLRuntime.name(of: object)) keys are not supported; RSA and EC are",
                function: "EVP_PKCS82PKEY")
        }
        try self.init(handle: KeyHandle(owning: key))
    }

    init(handle: KeyHandle) throws(PKCS12Error) {
        let key = handle.pointer
        let baseID = EVP_PKEY_get_base_id(key)
        let typeName = EVP_PKEY_get0_type_name(key).map { String(cString: $0) } ?? "unknown"
        bits = Int(EVP_PKEY_get_bits(key))
        switch baseID {
        case EVP_PKEY_RSA:
            let n = try Self.publicBN(key, OSSL_PKEY_PARAM_RSA_N)
            let e = try Self.publicBN(key, OSSL_PKEY_PARAM_RSA_E)
            publicKey = .rsa(modulus: n, publicExponent: e)
            type = .rsa
            var parts: [SecretBytes] = []
            for name in [
                OSSL_PKEY_PARAM_RSA_D,
                // The CRT names are built by macro concatenation, which Swift does not import.
                "rsa-factor1", "rsa-factor2", "rsa-exponent1", "rsa-exponent2", "rsa-coefficient1",
            ] {
                parts.append(try Self.privateBN(key, name, paddedTo: 0))
            }
            components = parts
        case EVP_PKEY_EC:
            var nameBuffer = [CChar](repeating: 0, count: 64)
            var nameLength = 0
            guard
                EVP_PKEY_get_utf8_string_param(
                    key, OSSL_PKEY_PARAM_GROUP_NAME, &nameBuffer,
                    nameBuffer.count, &nameLength) == 1,
                let curve = Curve(nid: OBJ_txt2nid(nameBuffer)) ?? Curve(nid: EC_curve_nist2nid(nameBuffer))
            else {
                ERR_clear_error()
                let group = OpenSSLRuntime.string(fromC: nameBuffer)
                throw PKCS12Error(
                    .unsupportedAlgorithm,
                    "EC key on \(group.isEmpty ? "explicit parameters" : group); supported: P-256, P-384, P-521")
            }
            type = .ec(curve)
            var pointLength = 0
            guard EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, nil, 0, &pointLength) == 1 else {
                throw OpenSSLRuntime.error(
                    .corrupt, "EC key without a public point", function: "EVP_PKEY_get_octet_string_param")
            }
            var point = [UInt8](repeating: 0, count: pointLength)
            guard EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, &point, point.count, &pointLength) == 1
            else {
                throw OpenSSLRuntime.error(
                    .corrupt, "EC key without a public point", function: "EVP_PKEY_get_octet_string_param")
            }
            publicKey = .ec(parameters: curve.parametersDER, point: Self.octetString(Array(point.prefix(pointLength))))
            components = [try Self.privateBN(key, OSSL_PKEY_PARAM_PRIV_KEY, paddedTo: curve.scalarByteCount)]
        case EVP_PKEY_ED25519, EVP_PKEY_ED448:
            let ed25519 = baseID == EVP_PKEY_ED25519
            type = .edwards(ed25519 ? "Ed25519" : "Ed448")
            var length = 0
            guard EVP_PKEY_get_raw_public_key(key, nil, &length) == 1 else {
                throw OpenSSLRuntime.error(
                    .corrupt, "Edwards key without a public key", function: "EVP_PKEY_get_raw_public_key")
            }
            var raw = [UInt8](repeating: 0, count: length)
            guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1 else {
                throw OpenSSLRuntime.error(
                    .corrupt, "Edwards key without a public key", function: "EVP_PKEY_get_raw_public_key")
            }
            publicKey = .edwards(
                parameters: [0x06, 0x03, 0x2B, 0x65, ed25519 ? 0x70 : 0x71], point: Self.octetString(raw))
            var privateLength = 0
            guard EVP_PKEY_get_raw_private_key(key, nil, &privateLength) == 1 else {
                throw OpenSSLRuntime.error(
                    .corrupt, "Edwards key without a private key", function: "EVP_PKEY_get_raw_private_key")
            }
            let value = SecretBytes(count: privateLength)
            guard
                EVP_PKEY_get_raw_private_key(
                    key, value.buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), &privateLength) == 1
            else {
                throw OpenSSLRuntime.error(
                    .corrupt, "Edwards key without a private key", function: "EVP_PKEY_get_raw_private_key")
            }
            components = [value]
        default:
            throw PKCS12Error(
                .unsupportedAlgorithm,
                "\(typeName) keys are not supported; RSA, EC (P-256, P-384, P-521), Ed25519 and Ed448 are")
        }
        // A key whose halves disagree would import and then fail every signature: refuse it now.
        if baseID == EVP_PKEY_ED25519 || baseID == EVP_PKEY_ED448 {
            // OpenSSL derives an Edwards public key from the private one: the halves agree.
        } else if baseID == EVP_PKEY_RSA {
            guard Self.rsaHalvesAgree(key) else {
                ERR_clear_error()
                throw PKCS12Error(.corrupt, "the private and public halves of the key do not belong together")
            }
        } else {
            guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else {
                throw OpenSSLRuntime.error(.openSSL, "cannot check the key", function: "EVP_PKEY_CTX_new_from_pkey")
            }
            defer { EVP_PKEY_CTX_free(context) }
            guard EVP_PKEY_pairwise_check(context) == 1 else {
                throw OpenSSLRuntime.error(
                    .corrupt, "the private and public halves of the key do not belong together",
                    function: "EVP_PKEY_pairwise_check")
            }
        }
        // Written here: `i2d_PUBKEY` builds an OpenSSL encoder for it (0.6–0.9 ms).
        publicKeyInfo = PublicKeyInfo.der(of: publicKey)
        guard let p8 = EVP_PKEY2PKCS8(key) else {
            throw OpenSSLRuntime.error(.openSSL, "cannot encode the key as PKCS#8", function: "EVP_PKEY2PKCS8")
        }
        defer { PKCS8_PRIV_KEY_INFO_free(p8) }
        guard let der = OpenSSLRuntime.secretDER({ i2d_PKCS8_PRIV_KEY_INFO(p8, $0) }), !publicKeyInfo.isEmpty else {
            throw OpenSSLRuntime.error(.openSSL, "cannot encode the key", function: "i2d_PKCS8_PRIV_KEY_INFO")
        }
        pkcs8 = der
    }

    /// The PKCS#8 PrivateKeyInfo DER (for C_UnwrapKey or a PFX), valid only inside `body`.
    public func withPKCS8<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(pkcs8.bytes)
    }

    /// The raw private components (for C_CreateObject), valid only inside `body`.
    public func withPrivateComponents<R, E: Error>(_ body: (PrivateComponents) throws(E) -> R) throws(E) -> R {
        switch type {
        case .rsa:
            try body(
                .rsa(
                    privateExponent: components[0].bytes, prime1: components[1].bytes,
                    prime2: components[2].bytes, exponent1: components[3].bytes,
                    exponent2: components[4].bytes, coefficient: components[5].bytes))
        case .ec:
            try body(.ec(value: components[0].bytes))
        case .edwards:
            try body(.edwards(value: components[0].bytes))
        }
    }

    /// Whether `certificate` carries this key's public half (`EVP_PKEY_eq`).
    public func matches(_ certificate: Certificate) -> Bool {
        matches(publicKeyInfo: certificate.publicKeyInfo)
    }

    /// Whether `publicKeyInfo` (SPKI DER) is this key's public half (`EVP_PKEY_eq`).
    public func matches(publicKeyInfo other: [UInt8]) -> Bool {
        PublicKeyInfo.same(publicKeyInfo, other)
    }

    /// CKA_ID as most tools choose it: SHA-1 of the public key bits.
    public var keyID: [UInt8] { (try? PublicKeyInfo.keyID(of: publicKeyInfo)) ?? [] }

    /// A fresh OpenSSL key from the PKCS#8 copy, for writing a PFX.
    func makeHandle() throws(PKCS12Error) -> KeyHandle {
        let info: OpaquePointer? = pkcs8.bytes.withMemoryRebound(to: UInt8.self) { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PKCS8_PRIV_KEY_INFO(nil, &cursor, buffer.count)
        }
        guard let info else {
            throw OpenSSLRuntime.error(.openSSL, "cannot decode own key", function: "d2i_PKCS8_PRIV_KEY_INFO")
        }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        guard let key = EVP_PKCS82PKEY(info) else {
            throw OpenSSLRuntime.error(.openSSL, "cannot decode own key", function: "EVP_PKCS82PKEY")
        }
        return KeyHandle(owning: key)
    }

    private static func publicBN(_ key: OpaquePointer, _ name: String) throws(PKCS12Error) -> [UInt8] {
        var bn: OpaquePointer? = nil
        guard EVP_PKEY_get_bn_param(key, name, &bn) == 1, let bn else {
            throw OpenSSLRuntime.error(.corrupt, "key lacks \(name)", function: "EVP_PKEY_get_bn_param")
        }
        defer { BN_free(bn) }
        var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(bn) + 7) / 8))
        _ = BN_bn2bin(bn, &bytes)
        return bytes
    }

    /// A private big number straight into wiped memory; OpenSSL's copy is cleared with `BN_clear_free`.
    private static func privateBN(_ key: OpaquePointer, _ name: String, paddedTo width: Int) throws(PKCS12Error)
        -> SecretBytes
    {
        var bn: OpaquePointer? = nil
        guard EVP_PKEY_get_bn_param(key, name, &bn) == 1, let bn else {
            throw OpenSSLRuntime.error(
                .unsupportedAlgorithm, "key lacks \(name) (CRT components are needed)",
                function: "EVP_PKEY_get_bn_param")
        }
        defer { BN_clear_free(bn) }
        let count = max(width, Int((BN_num_bits(bn) + 7) / 8))
        let out = SecretBytes(count: count)
        _ = BN_bn2binpad(bn, out.buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(count))
        return out
    }

    /// Whether an RSA key's private half fits its public half: n = p·q, e·d ≡ 1 modulo p−1 and
    /// q−1, the CRT exponents are d modulo p−1 and q−1, and q·qInv ≡ 1 (mod p). This is the
    /// arithmetic of EVP_PKEY_pairwise_check without its primality tests of p and q, which take
    /// about 35 ms for a 2048-bit key — most of a PFX import — and prove nothing about whether
    /// the halves belong together.
    static func rsaHalvesAgree(_ key: OpaquePointer) -> Bool {
        guard let context = BN_CTX_new() else { return false }
        defer { BN_CTX_free(context) }
        var values: [OpaquePointer?] = []
        defer { values.forEach { BN_clear_free($0) } }
        for name in [
            OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
            "rsa-factor1", "rsa-factor2", "rsa-exponent1", "rsa-exponent2", "rsa-coefficient1",
        ] {
            var bn: OpaquePointer? = nil
            guard EVP_PKEY_get_bn_param(key, name, &bn) == 1, bn != nil else { return false }
            values.append(bn)
        }
        let (n, e, d, p, q, dP, dQ, qInv) = (
            values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7]
        )
        var scratch: [OpaquePointer?] = []
        defer { scratch.forEach { BN_clear_free($0) } }
        func make() -> OpaquePointer? {
            let bn = BN_new()
            scratch.append(bn)
            return bn
        }
        guard let product = make(), let pMinus1 = make(), let qMinus1 = make(), let reduced = make(),
            let check = make(),
            BN_copy(pMinus1, p) != nil, BN_sub_word(pMinus1, 1) == 1,
            BN_copy(qMinus1, q) != nil, BN_sub_word(qMinus1, 1) == 1,
            BN_mul(product, p, q, context) == 1, BN_cmp(product, n) == 0
        else { return false }
        for (modulus, crtExponent) in [(pMinus1, dP), (qMinus1, dQ)] {
            guard BN_nnmod(reduced, d, modulus, context) == 1, BN_cmp(reduced, crtExponent) == 0,
                BN_mod_mul(check, e, d, modulus, context) == 1, BN_is_one(check) == 1
            else { return false }
        }
        return BN_mod_mul(check, q, qInv, p, context) == 1 && BN_is_one(check) == 1
    }

    /// Wraps bytes in a DER OCTET STRING (CKA_EC_POINT's form).
    static func octetString(_ contents: [UInt8]) -> [UInt8] { PublicKeyInfo.tlv(0x04, contents) }
}
