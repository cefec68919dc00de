internal import COpenSSL

/// A password as OpenSSL's PKCS#12 functions take it: bytes and a length, or NULL for "none".
/// Points into a `Secret`; valid only while that secret's `withCString` runs.
struct PasswordCandidate {
    let pointer: UnsafePointer<CChar>?
    let length: Int32
}

/// Owns a decoded PFX (`d2i_PKCS12`) and its authenticated safe (`PKCS12_unpack_authsafes`).
/// Nothing here needs the password; decrypting is `SafeContentsDecoder`'s job.
final class PFXFile {
    let pkcs12: OpaquePointer
    private let authSafes: OpaquePointer

    /// Parses the outer structure; anything malformed is `corrupt`.
    init(bytes: [UInt8]) throws(PKCS12Error) {
        OpenSSLRuntime.ensureLoaded()
        guard let parsed = OpenSSLRuntime.decodeWhole(bytes, { d2i_PKCS12(nil, $0, $1) }, free: PKCS12_free) else {
            throw OpenSSLRuntime.error(
                .corrupt, "not a PFX/PKCS#12 file, or truncated or damaged", function: "d2i_PKCS12")
        }
        guard let safes = PKCS12_unpack_authsafes(parsed) else {
            PKCS12_free(parsed)
            throw OpenSSLRuntime.error(.corrupt, "the PFX contents are damaged", function: "PKCS12_unpack_authsafes")
        }
        pkcs12 = parsed
        authSafes = safes
    }

    deinit {
        CB_sk_PKCS7_pop_free(authSafes)
        PKCS12_free(pkcs12)
    }

    /// The parts of the authenticated safe (ContentInfos), in file order.
    var parts: [UnsafeMutablePointer<PKCS7>] {
        (0..<CB_sk_PKCS7_num(authSafes)).compactMap { CB_sk_PKCS7_value(authSafes, $0) }
    }

    /// The MAC's digest and iteration count (`PKCS12_get0_mac`), nil when there is no MAC.
    var mac: Inspection.MAC? {
        guard PKCS12_mac_present(pkcs12) == 1 else { return nil }
        var algorithm: UnsafePointer<X509_ALGOR>? = nil
        var iterations: UnsafePointer<ASN1_INTEGER>? = nil
        PKCS12_get0_mac(nil, &algorithm, nil, &iterations, pkcs12)
        let nid = algorithm.map { OBJ_obj2nid($0.pointee.algorithm) } ?? NID_undef
        let digest = nid == NID_undef ? "unknown" : String(cString: OBJ_nid2sn(nid))
        // RFC 7292: an absent iteration count means 1.
        return Inspection.MAC(digest: digest, iterations: OpenSSLRuntime.integer(iterations) ?? 1)
    }

    /// Whether OpenSSL can compute the MAC's digest at all.
    var macDigestIsSupported: Bool {
        var algorithm: UnsafePointer<X509_ALGOR>? = nil
        PKCS12_get0_mac(nil, &algorithm, nil, nil, pkcs12)
        guard let algorithm else { return false }
        let digest = EVP_MD_fetch(nil, OpenSSLRuntime.name(of: algorithm.pointee.algorithm), nil)
        defer {
            EVP_MD_free(digest)
            ERR_clear_error()
        }
        return digest != nil
    }

    /// Whether the MAC verifies under `password` (`PKCS12_verify_mac`).
    func verifyMAC(_ password: PasswordCandidate) -> Bool {
        defer { ERR_clear_error() }
        return PKCS12_verify_mac(pkcs12, password.pointer, password.length) == 1
    }
}
