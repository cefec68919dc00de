internal import COpenSSL

/// Process-wide OpenSSL setup and the small conversions every file here needs.
enum OpenSSLRuntime {
    /// The providers stay loaded for the life of the process. "default" is loaded explicitly and
    /// first: loading only "legacy" would replace the implicit default provider and break every
    /// modern algorithm. "legacy" brings RC2-40 and friends used by Windows XP-era PFX files.
    /// Whether "legacy" loaded. The provider handles are never unloaded, so only this is kept.
    private static let legacyLoaded: Bool = {
        _ = OSSL_PROVIDER_load(nil, "default")
        let legacy = OSSL_PROVIDER_load(nil, "legacy")
        ERR_clear_error()
        return legacy != nil
    }()

    /// Loads the providers once; call before any OpenSSL work.
    static func ensureLoaded() {
        _ = legacyLoaded
        ERR_clear_error()
    }

    /// Whether the legacy provider (RC2, RC4, single DES) is available.
    static var hasLegacyProvider: Bool { legacyLoaded }

    /// Drains this thread's OpenSSL error queue into one line.
    static func drainErrors() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(string(fromC: buffer))
        }
        return messages.joined(separator: "; ")
    }

    /// An error with OpenSSL's own reason appended, for a failing call named `function`.
    static func error(
        _ code: PKCS12Error.Code, _ what: String, function: String,
        file: String = #fileID, line: Int = #line
    ) -> PKCS12Error {
        let detail = drainErrors()
        let reason = detail.isEmpty ? "\(what) (\(function) failed)" : "\(what) (\(function): \(detail))"
        return PKCS12Error(code, reason, file: file, line: line)
    }

    /// Runs a `d2i_*` decoder over the whole of `der`: the object (the caller owns it), or nil
    /// when it does not parse or leaves bytes over (a concatenation or damage is not what it
    /// claims to be).
    static func decodeWhole(
        _ der: [UInt8], _ d2i: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> OpaquePointer?,
        free: (OpaquePointer) -> Void
    ) -> OpaquePointer? {
        der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let decoded = d2i(&cursor, buffer.count) else { return nil }
            if cursor != buffer.baseAddress.map({ $0 + buffer.count }) {
                free(decoded)
                return nil
            }
            return decoded
        }
    }

    /// Runs an `i2d_*` encoder into a Swift array. Not for secrets: see `secretDER`.
    static func der(_ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) -> [UInt8]? {
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = encode(&out)
        guard length > 0, let out else { return nil }
        defer { CB_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }

    /// Runs an `i2d_*` encoder of secret data into wiped-on-release memory, wiping OpenSSL's copy.
    static func secretDER(_ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) -> SecretBytes? {
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = encode(&out)
        guard length > 0, let out else { return nil }
        defer {
            CB_OPENSSL_cleanse(out, Int(length))
            CB_OPENSSL_free(out)
        }
        return SecretBytes(copying: UnsafeRawBufferPointer(start: out, count: Int(length)))
    }

    /// The text a memory BIO holds.
    static func string(of bio: OpaquePointer) -> String {
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = CB_BIO_get_mem_data(bio, &data)
        guard length > 0, let data else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// An `ASN1_STRING`'s bytes.
    static func bytes(of string: UnsafePointer<ASN1_STRING>?) -> [UInt8] {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
    }

    /// An `ASN1_INTEGER` as a Swift integer, or nil when absent or too large.
    static func integer(_ value: UnsafePointer<ASN1_INTEGER>?) -> Int? {
        guard let value else { return nil }
        var result: Int64 = 0
        guard ASN1_INTEGER_get_int64(&result, value) == 1 else { return nil }
        return Int(result)
    }

    /// The long name OpenSSL gives an object identifier ("aes-256-cbc", "hmacWithSHA256").
    static func name(of object: OpaquePointer?) -> String {
        guard let object else { return "unknown" }
        let nid = OBJ_obj2nid(object)
        if nid != NID_undef, let name = OBJ_nid2ln(nid) { return String(cString: name) }
        var buffer = [CChar](repeating: 0, count: 128)
        let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
        return length > 0 ? string(fromC: buffer) : "unknown"
    }

    /// The text before the first NUL of a C buffer.
    static func string(fromC buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The length of the DER element at the start of `bytes` (tag, length and contents), or nil when
/// the header is malformed or claims more than is there. Used to trim wrapped keys, which come
/// back zero-padded from CKM_AES_KEY_WRAP_PAD.
func derElementLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
    guard bytes.count >= 2 else { return nil }
    let first = Int(bytes[1])
    var headerLength = 2
    var contentLength = 0
    if first < 0x80 {
        contentLength = first
    } else {
        let count = first & 0x7f
        // Indefinite lengths are not DER; more than 4 length bytes is not a key.
        guard count >= 1, count <= 4, bytes.count >= 2 + count else { return nil }
        for index in 0..<count { contentLength = contentLength << 8 | Int(bytes[2 + index]) }
        headerLength += count
    }
    let total = headerLength + contentLength
    return total <= bytes.count ? total : nil
}
