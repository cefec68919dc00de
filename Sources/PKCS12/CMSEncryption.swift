internal import COpenSSL

/// CMS EnvelopedData (RFC 5652) made by OpenSSL's CMS_encrypt, the file `openssl cms -decrypt`
/// reads: RSA recipients by key transport, EC recipients by ECDH key agreement.
public enum CMSEncryption {
    /// RSA key-transport padding for the recipients' certificates.
    public enum RSAPadding: String, Sendable, CaseIterable {
        /// PKCS#1 v1.5 (what `openssl cms -encrypt` does by default).
        case pkcs1 = "pkcs1"
        /// RSAES-OAEP with SHA-1 and MGF1-SHA-1 (`-keyopt rsa_padding_mode:oaep`).
        case oaep = "oaep"
    }

    /// Encrypts `content` to every certificate in `recipients` (DER) with `cipher` (an OpenSSL
    /// cipher name such as `AES-256-CBC`) and returns the DER ContentInfo.
    public static func encrypt(
        _ content: [UInt8], to recipients: [[UInt8]], cipher name: String = "AES-256-CBC",
        rsaPadding: RSAPadding = .pkcs1
    ) throws(PKCS12Error) -> [UInt8] {
        OpenSSLRuntime.ensureLoaded()
        guard !recipients.isEmpty else { throw PKCS12Error(.invalidArgument, "no recipient certificate") }
        guard let cipher = EVP_get_cipherbyname(name) else {
            throw PKCS12Error(.unsupportedAlgorithm, "no cipher named \(name)")
        }
        var certificates: [X509Handle] = []
        for der in recipients { certificates.append(try X509Handle(der: der)) }
        let flags = UInt32(CMS_BINARY | CMS_PARTIAL)
        guard let cms = CMS_encrypt(nil, nil, cipher, flags) else {
            throw OpenSSLRuntime.error(.openSSL, "cannot start the enveloped data", function: "CMS_encrypt")
        }
        defer { CMS_ContentInfo_free(cms) }
        for certificate in certificates {
            guard let info = CMS_add1_recipient_cert(cms, certificate.pointer, UInt32(CMS_KEY_PARAM)) else {
                throw OpenSSLRuntime.error(
                    .unsupportedAlgorithm, "cannot encrypt to this certificate's key",
                    function: "CMS_add1_recipient_cert")
            }
            if rsaPadding == .oaep, CMS_RecipientInfo_type(info) == CMS_RECIPINFO_TRANS {
                guard let context = CMS_RecipientInfo_get0_pkey_ctx(info),
                    EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_OAEP_PADDING) == 1
                else {
                    throw OpenSSLRuntime.error(
                        .unsupportedAlgorithm, "cannot use OAEP for this recipient",
                        function: "EVP_PKEY_CTX_set_rsa_padding")
                }
            }
        }
        guard let input = content.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw OpenSSLRuntime.error(.openSSL, "no memory buffer", function: "BIO_new_mem_buf")
        }
        defer { BIO_free(input) }
        guard CMS_final(cms, input, nil, flags & ~UInt32(CMS_PARTIAL)) == 1 else {
            throw OpenSSLRuntime.error(.openSSL, "cannot encrypt the content", function: "CMS_final")
        }
        guard let der = OpenSSLRuntime.der({ i2d_CMS_ContentInfo(cms, $0) }) else {
            throw OpenSSLRuntime.error(.openSSL, "cannot encode the enveloped data", function: "i2d_CMS_ContentInfo")
        }
        return der
    }
}
