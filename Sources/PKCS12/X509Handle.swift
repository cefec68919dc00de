internal import COpenSSL

/// Owns one OpenSSL `X509`; frees it on release.
final class X509Handle {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    /// Parses exactly one DER certificate (`d2i_X509`); trailing bytes are an error.
    convenience init(der: [UInt8]) throws(PKCS12Error) {
        OpenSSLRuntime.ensureLoaded()
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let parsed = d2i_X509(nil, &cursor, buffer.count) else { return nil }
            if cursor != buffer.baseAddress.map({ $0 + buffer.count }) {
                X509_free(parsed)
                return nil
            }
            return parsed
        }
        guard let parsed else {
            throw OpenSSLRuntime.error(.corrupt, "not a DER certificate", function: "d2i_X509")
        }
        self.init(owning: parsed)
    }

    deinit { X509_free(pointer) }

    /// The DER encoding (`i2d_X509`).
    var der: [UInt8] { OpenSSLRuntime.der { i2d_X509(pointer, $0) } ?? [] }
}
