internal import COpenSSL

/// Names the encryption an `AlgorithmIdentifier` describes, the way RFC 7292 and RFC 8018 do.
enum EncryptionAlgorithm {
    /// RFC 7292 Appendix C names; OpenSSL spells them "pbeWithSHA1And...".
    private static let pkcs12Names: [Int32: (name: String, weak: Bool)] = [
        NID_pbe_WithSHA1And128BitRC4: ("pbeWithSHAAnd128BitRC4", true),
        NID_pbe_WithSHA1And40BitRC4: ("pbeWithSHAAnd40BitRC4", true),
        NID_pbe_WithSHA1And3_Key_TripleDES_CBC: ("pbeWithSHAAnd3-KeyTripleDES-CBC", true),
        NID_pbe_WithSHA1And2_Key_TripleDES_CBC: ("pbeWithSHAAnd2-KeyTripleDES-CBC", true),
        NID_pbe_WithSHA1And128BitRC2_CBC: ("pbeWithSHAAnd128BitRC2-CBC", true),
        NID_pbe_WithSHA1And40BitRC2_CBC: ("pbeWithSHAAnd40BitRC2-CBC", true),
    ]

    /// Describes `algorithm` (an X509_ALGOR from a shrouded key bag or an EncryptedData part).
    static func describe(_ algorithm: UnsafePointer<X509_ALGOR>?) -> Inspection.Encryption {
        guard let algorithm else {
            return Inspection.Encryption(algorithm: "unknown", iterations: nil, isWeakCipher: false)
        }
        defer { ERR_clear_error() }
        let nid = OBJ_obj2nid(algorithm.pointee.algorithm)
        let parameter = algorithm.pointee.parameter
        if let known = pkcs12Names[nid] {
            let iterations =
                decode(parameter, d2i_PBEPARAM, PBEPARAM_free) { (p: UnsafeMutablePointer<PBEPARAM>) in
                    OpenSSLRuntime.integer(p.pointee.iter)
                } ?? nil
            return Inspection.Encryption(algorithm: known.name, iterations: iterations, isWeakCipher: known.weak)
        }
        if nid == NID_pbes2 {
            return decode(parameter, d2i_PBE2PARAM, PBE2PARAM_free) { (p: UnsafeMutablePointer<PBE2PARAM>) in
                pbes2(p.pointee)
            } ?? Inspection.Encryption(algorithm: "PBES2 (unreadable parameters)", iterations: nil, isWeakCipher: false)
        }
        // PBES1 (PKCS#5 v1.5) and anything else: name it, call single DES and RC2 weak.
        let name = OpenSSLRuntime.name(of: algorithm.pointee.algorithm)
        let iterations =
            decode(parameter, d2i_PBEPARAM, PBEPARAM_free) { (p: UnsafeMutablePointer<PBEPARAM>) in
                OpenSSLRuntime.integer(p.pointee.iter)
            } ?? nil
        return Inspection.Encryption(algorithm: name, iterations: iterations, isWeakCipher: isWeakCipherName(name))
    }

    private static func pbes2(_ parameters: PBE2PARAM) -> Inspection.Encryption {
        let cipherNID = OBJ_obj2nid(parameters.encryption.pointee.algorithm)
        let cipher =
            cipherNID == NID_undef
            ? OpenSSLRuntime.name(of: parameters.encryption.pointee.algorithm)
            : String(cString: OBJ_nid2sn(cipherNID))
        let kdfNID = OBJ_obj2nid(parameters.keyfunc.pointee.algorithm)
        var kdf = OpenSSLRuntime.name(of: parameters.keyfunc.pointee.algorithm)
        var iterations: Int? = nil
        if kdfNID == NID_id_pbkdf2 {
            let found = decode(parameters.keyfunc.pointee.parameter, d2i_PBKDF2PARAM, PBKDF2PARAM_free) {
                (p: UnsafeMutablePointer<PBKDF2PARAM>) in
                // An absent PRF means the RFC 8018 default, HMAC-SHA1.
                let prf = p.pointee.prf.map { OBJ_obj2nid($0.pointee.algorithm) } ?? NID_hmacWithSHA1
                return (prf, OpenSSLRuntime.integer(p.pointee.iter))
            }
            let prfName = found.map { prfLabel($0.0) } ?? "unknown"
            kdf = "PBKDF2-\(prfName)"
            iterations = found?.1
        }
        return Inspection.Encryption(
            algorithm: "PBES2/\(cipher)/\(kdf)", iterations: iterations,
            isWeakCipher: isWeakCipherName(cipher))
    }

    /// "hmacWithSHA256" → "HMAC-SHA256".
    private static func prfLabel(_ nid: Int32) -> String {
        guard let short = OBJ_nid2sn(nid) else { return "unknown" }
        let name = String(cString: short)
        return name.hasPrefix("hmacWith") ? "HMAC-" + name.dropFirst("hmacWith".count) : name
    }

    private static func isWeakCipherName(_ name: String) -> Bool {
        let lower = name.lowercased()
        return ["rc2", "rc4", "des"].contains { lower.contains($0) }
    }

    /// Decodes a SEQUENCE parameter with a `d2i_*` function, reads it, frees it.
    private static func decode<T, R>(
        _ parameter: UnsafeMutablePointer<ASN1_TYPE>?,
        _ d2i: (UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, Int) ->
            UnsafeMutablePointer<T>?,
        _ free: (UnsafeMutablePointer<T>?) -> Void,
        _ read: (UnsafeMutablePointer<T>) -> R
    ) -> R? {
        guard let parameter, parameter.pointee.type == V_ASN1_SEQUENCE,
            let sequence = parameter.pointee.value.sequence,
            let data = ASN1_STRING_get0_data(sequence)
        else { return nil }
        var cursor: UnsafePointer<UInt8>? = data
        guard let decoded = d2i(nil, &cursor, Int(ASN1_STRING_length(sequence))) else { return nil }
        defer { free(decoded) }
        return read(decoded)
    }
}
