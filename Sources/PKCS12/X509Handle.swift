internal import COpenSSL

/// Owns one OpenSSL `X509`; frees it on release.
final class X509Handle {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    /// Parses exactly one DER certificate (`d2i_X509`); trailing bytes are an error.
    convenience init(der: [UInt8]) throws(PKCS12Error) {
        OpenSSLRuntime.ensureLoaded()
        guard let parsed = OpenSSLRuntime.decodeWhole(der, { d2i_X509(nil, $0, $1) }, free: X509_free) else {
            throw OpenSSLRuntime.error(.corrupt, "not a DER certificate", function: "d2i_X509")
        }
        self.init(owning: parsed)
    }

    deinit { X509_free(pointer) }

    /// The DER encoding (`i2d_X509`).
    var der: [UInt8] { OpenSSLRuntime.der { i2d_X509(pointer, $0) } ?? [] }
}
