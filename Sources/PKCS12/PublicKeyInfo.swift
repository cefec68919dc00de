internal import COpenSSL

/// SubjectPublicKeyInfo helpers: build one from token attributes, compare, derive a key ID.
public enum PublicKeyInfo {
    /// SPKI DER for an RSA public key from its big-endian modulus and public exponent
    /// (CKA_MODULUS, CKA_PUBLIC_EXPONENT), via `EVP_PKEY_fromdata`.
    public static func rsa(modulus: [UInt8], publicExponent: [UInt8]) throws(PKCS12Error) -> [UInt8] {
        guard !modulus.isEmpty, !publicExponent.isEmpty else {
            throw PKCS12Error(.corrupt, "empty RSA modulus or exponent")
        }
        return try build(type: "RSA") { builder, keep in
            let n = keep.bignum(modulus)
            let e = keep.bignum(publicExponent)
            return n != nil && e != nil
                && OSSL_PARAM_BLD_push_BN(builder, keep.string(OSSL_PKEY_PARAM_RSA_N), n) == 1
                && OSSL_PARAM_BLD_push_BN(builder, keep.string(OSSL_PKEY_PARAM_RSA_E), e) == 1
        }
    }

    /// SPKI DER for an EC public key from the curve's DER OID (CKA_EC_PARAMS) and the point as a
    /// DER OCTET STRING (CKA_EC_POINT) or as the bare uncompressed point, via `EVP_PKEY_fromdata`.
    public static func ec(parameters: [UInt8], point: [UInt8]) throws(PKCS12Error) -> [UInt8] {
        let curve = try Curve(parametersDER: parameters)
        let rawPoint = unwrapOctetString(point) ?? point
        return try build(type: "EC") { builder, keep in
            OSSL_PARAM_BLD_push_utf8_string(
                builder, keep.string(OSSL_PKEY_PARAM_GROUP_NAME),
                keep.string(curve.groupName), 0) == 1
                && OSSL_PARAM_BLD_push_octet_string(
                    builder, keep.string(OSSL_PKEY_PARAM_PUB_KEY),
                    keep.bytes(rawPoint), rawPoint.count) == 1
        }
    }

    /// SPKI DER for an Edwards public key (CKK_EC_EDWARDS) from the curve's DER OID
    /// (CKA_EC_PARAMS: 1.3.101.112 Ed25519, 1.3.101.113 Ed448) or its PrintableString name
    /// (`edwards25519`, `edwards448`; PKCS#11 3.0 §2.3.10 allows both) and the raw key as a DER
    /// OCTET STRING or bare (CKA_EC_POINT), via `EVP_PKEY_fromdata`.
    public static func edwards(parameters: [UInt8], point: [UInt8]) throws(PKCS12Error) -> [UInt8] {
        let type: String
        switch parameters {
        case [0x06, 0x03, 0x2B, 0x65, 0x70], [0x13, 0x0C] + Array("edwards25519".utf8): type = "ED25519"
        case [0x06, 0x03, 0x2B, 0x65, 0x71], [0x13, 0x0A] + Array("edwards448".utf8): type = "ED448"
        default: throw PKCS12Error(.unsupportedAlgorithm, "an Edwards curve other than Ed25519 and Ed448")
        }
        let raw = unwrapOctetString(point) ?? point
        return try build(type: type) { builder, keep in
            OSSL_PARAM_BLD_push_octet_string(builder, keep.string(OSSL_PKEY_PARAM_PUB_KEY), keep.bytes(raw), raw.count)
                == 1
        }
    }

    /// The usual CKA_ID: SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 §4.2.1.2
    /// method 1), via `X509_PUBKEY_get0_param` and `EVP_Digest`.
    public static func keyID(of publicKeyInfo: [UInt8]) throws(PKCS12Error) -> [UInt8] {
        OpenSSLRuntime.ensureLoaded()
        let parsed: OpaquePointer? = publicKeyInfo.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509_PUBKEY(nil, &cursor, buffer.count)
        }
        guard let parsed else {
            throw OpenSSLRuntime.error(.corrupt, "not a SubjectPublicKeyInfo", function: "d2i_X509_PUBKEY")
        }
        defer { X509_PUBKEY_free(parsed) }
        var key: UnsafePointer<UInt8>? = nil
        var keyLength: Int32 = 0
        guard X509_PUBKEY_get0_param(nil, &key, &keyLength, nil, parsed) == 1, let key else {
            throw OpenSSLRuntime.error(.corrupt, "unreadable public key", function: "X509_PUBKEY_get0_param")
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var digestLength: UInt32 = 0
        guard EVP_Digest(key, Int(keyLength), &digest, &digestLength, EVP_sha1(), nil) == 1 else {
            throw OpenSSLRuntime.error(.openSSL, "SHA-1 failed", function: "EVP_Digest")
        }
        return Array(digest.prefix(Int(digestLength)))
    }

    /// Whether two SPKI DER blobs hold the same key, however encoded: from the DER where that
    /// tells (`sameByDER`), else `EVP_PKEY_eq`.
    static func same(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        if lhs == rhs { return true }
        if let judged = sameByDER(lhs, rhs) { return judged }
        guard let a = try? KeyHandle(publicKeyInfo: lhs), let b = try? KeyHandle(publicKeyInfo: rhs) else {
            return false
        }
        return a.samePublicKey(as: b)
    }

    /// The contents of a DER OCTET STRING, or nil if `bytes` is not exactly one.
    static func unwrapOctetString(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.first == 0x04 else { return nil }
        return bytes.withUnsafeBytes { buffer -> [UInt8]? in
            guard let total = derElementLength(buffer), total == buffer.count else { return nil }
            let headerLength = buffer[1] < 0x80 ? 2 : 2 + Int(buffer[1] & 0x7f)
            return Array(buffer[headerLength...])
        }
    }

    /// Keeps what an `OSSL_PARAM_BLD` points to alive until the params are built: the builder
    /// stores the caller's pointers (names included) and copies them only in `OSSL_PARAM_BLD_to_param`.
    private final class Kept {
        private var strings: [UnsafeMutablePointer<CChar>] = []
        private var buffers: [UnsafeMutableRawBufferPointer] = []
        private var bignums: [OpaquePointer] = []

        func string(_ text: String) -> UnsafePointer<CChar> {
            let copy = strdup(text)!
            strings.append(copy)
            return UnsafePointer(copy)
        }

        func bytes(_ bytes: [UInt8]) -> UnsafeRawPointer {
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
            copy.copyBytes(from: bytes)
            buffers.append(copy)
            return UnsafeRawPointer(copy.baseAddress!)
        }

        func bignum(_ bytes: [UInt8]) -> OpaquePointer? {
            guard let bignum = BN_bin2bn(bytes, Int32(bytes.count), nil) else { return nil }
            bignums.append(bignum)
            return bignum
        }

        deinit {
            strings.forEach { free($0) }
            buffers.forEach { $0.deallocate() }
            bignums.forEach { BN_free($0) }
        }
    }

    /// Makes a public key from OSSL_PARAMs pushed by `fill` and returns its SPKI.
    private static func build(type: String, _ fill: (OpaquePointer, Kept) -> Bool) throws(PKCS12Error) -> [UInt8] {
        OpenSSLRuntime.ensureLoaded()
        guard let builder = OSSL_PARAM_BLD_new() else {
            throw OpenSSLRuntime.error(.openSSL, "out of memory", function: "OSSL_PARAM_BLD_new")
        }
        defer { OSSL_PARAM_BLD_free(builder) }
        let kept = Kept()
        let built = withExtendedLifetime(kept) { fill(builder, kept) ? OSSL_PARAM_BLD_to_param(builder) : nil }
        guard let params = built else {
            throw OpenSSLRuntime.error(.corrupt, "bad \(type) public key values", function: "OSSL_PARAM_BLD_push")
        }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, type, nil) else {
            throw OpenSSLRuntime.error(.openSSL, "no \(type) support", function: "EVP_PKEY_CTX_new_from_name")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_fromdata_init(context) == 1,
            EVP_PKEY_fromdata(context, &key, CB_EVP_PKEY_PUBLIC_KEY(), params) == 1, let key
        else {
            throw OpenSSLRuntime.error(.corrupt, "bad \(type) public key values", function: "EVP_PKEY_fromdata")
        }
        let info = KeyHandle(owning: key).publicKeyInfo
        guard !info.isEmpty else {
            throw OpenSSLRuntime.error(.corrupt, "bad \(type) public key", function: "i2d_PUBKEY")
        }
        return info
    }
}
