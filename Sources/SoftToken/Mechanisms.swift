internal import CPKCS11

/// What the token can do, for C_GetMechanismList / C_GetMechanismInfo.
enum Mechanisms {
    struct Info {
        let type: CK_MECHANISM_TYPE
        let minKey: CK_ULONG
        let maxKey: CK_ULONG
        let flags: CK_FLAGS
    }

    private static let ec = CKF.ecFp | CKF.ecNamedCurve | CKF.ecUncompress
    static let all: [Info] =
        [
            Info(type: CKM.rsaKeyPairGen, minKey: 1024, maxKey: 4096, flags: CKF.generateKeyPair),
            Info(
                type: CKM.rsaPKCS, minKey: 1024, maxKey: 4096,
                flags: CKF.sign | CKF.verify | CKF.encrypt | CKF.decrypt | CKF.wrap | CKF.unwrap),
            Info(
                type: CKM.rsaPKCSOAEP, minKey: 1024, maxKey: 4096,
                flags: CKF.encrypt | CKF.decrypt | CKF.wrap | CKF.unwrap),
            Info(type: CKM.rsaPKCSPSS, minKey: 1024, maxKey: 4096, flags: CKF.sign | CKF.verify),
        ]
        + [
            CKM.sha1RSAPKCS, CKM.sha224RSAPKCS, CKM.sha256RSAPKCS, CKM.sha384RSAPKCS, CKM.sha512RSAPKCS,
            CKM.sha1RSAPKCSPSS, CKM.sha224RSAPKCSPSS, CKM.sha256RSAPKCSPSS, CKM.sha384RSAPKCSPSS, CKM.sha512RSAPKCSPSS,
        ].map {
            Info(type: $0, minKey: 1024, maxKey: 4096, flags: CKF.sign | CKF.verify)
        } + [
            Info(type: CKM.ecKeyPairGen, minKey: 256, maxKey: 521, flags: CKF.generateKeyPair | ec),
            Info(type: CKM.ecdsa, minKey: 256, maxKey: 521, flags: CKF.sign | CKF.verify | ec),
        ]
        + [CKM.ecdsaSHA1, CKM.ecdsaSHA224, CKM.ecdsaSHA256, CKM.ecdsaSHA384, CKM.ecdsaSHA512].map {
            Info(type: $0, minKey: 256, maxKey: 521, flags: CKF.sign | CKF.verify | ec)
        } + [
            Info(type: CKM.aesKeyGen, minKey: 16, maxKey: 32, flags: CKF.generate),
            Info(type: CKM.aesKeyWrap, minKey: 16, maxKey: 32, flags: CKF.wrap | CKF.unwrap),
            Info(type: CKM.aesKeyWrapPad, minKey: 16, maxKey: 32, flags: CKF.wrap | CKF.unwrap),
        ]
        + [CKM.aesECB, CKM.aesCBC, CKM.aesCBCPad, CKM.aesCTR, CKM.aesGCM].map {
            Info(type: $0, minKey: 16, maxKey: 32, flags: CKF.encrypt | CKF.decrypt)
        }
        + [CKM.sha1HMAC, CKM.sha224HMAC, CKM.sha256HMAC, CKM.sha384HMAC, CKM.sha512HMAC].map {
            Info(type: $0, minKey: 1, maxKey: 512, flags: CKF.sign | CKF.verify)
        } + [
            Info(type: CKM.aesCMAC, minKey: 16, maxKey: 32, flags: CKF.sign | CKF.verify),
            Info(type: CKM.genericSecretKeyGen, minKey: 1, maxKey: 512, flags: CKF.generate),
        ]
        + [CKM.sha1, CKM.sha224, CKM.sha256, CKM.sha384, CKM.sha512].map {
            Info(type: $0, minKey: 0, maxKey: 0, flags: CKF.digest)
        } + agreement

    static func info(_ type: CK_MECHANISM_TYPE) -> Info? { all.first { $0.type == type } }

    /// OpenSSL's name for a CKM_SHA* digest.
    static func digestName(_ type: CK_MECHANISM_TYPE) -> String? {
        switch type {
        case CKM.sha1: "SHA1"
        case CKM.sha224: "SHA224"
        case CKM.sha256: "SHA256"
        case CKM.sha384: "SHA384"
        case CKM.sha512: "SHA512"
        default: nil
        }
    }

    /// OpenSSL's name for a CKG_MGF1_* function.
    static func mgfName(_ mgf: CK_ULONG) -> String? {
        switch mgf {
        case CKG.mgf1SHA1: "SHA1"
        case CKG.mgf1SHA224: "SHA224"
        case CKG.mgf1SHA256: "SHA256"
        case CKG.mgf1SHA384: "SHA384"
        case CKG.mgf1SHA512: "SHA512"
        default: nil
        }
    }
}

/// A sign/verify mechanism taken apart for cbst_sign and cbst_verify.
struct SignatureScheme {
    let keyType: CK_KEY_TYPE
    let padding: Int32
    /// The hash the token applies to the message; nil when the caller hashed (or formatted) it.
    let digest: String?
    let pssDigest: String?
    let mgf: String?
    let saltLength: Int32

    static func parse(_ mechanism: CK_MECHANISM) throws(CKRError) -> SignatureScheme {
        let type = mechanism.mechanism
        switch type {
        case CKM.rsaPKCS:
            return SignatureScheme(keyType: CKK.rsa, padding: 1, digest: nil, pssDigest: nil, mgf: nil, saltLength: 0)
        case CKM.sha1RSAPKCS, CKM.sha224RSAPKCS, CKM.sha256RSAPKCS, CKM.sha384RSAPKCS, CKM.sha512RSAPKCS:
            return SignatureScheme(
                keyType: CKK.rsa, padding: 1, digest: hashOf(type), pssDigest: nil, mgf: nil, saltLength: 0)
        case CKM.rsaPKCSPSS, CKM.sha1RSAPKCSPSS, CKM.sha224RSAPKCSPSS, CKM.sha256RSAPKCSPSS, CKM.sha384RSAPKCSPSS,
            CKM.sha512RSAPKCSPSS:
            guard let parameter = mechanism.pParameter,
                mechanism.ulParameterLen == CK_ULONG(MemoryLayout<CK_RSA_PKCS_PSS_PARAMS>.size)
            else {
                throw CKRError(CKR.mechanismParamInvalid)
            }
            let params = parameter.loadUnaligned(as: CK_RSA_PKCS_PSS_PARAMS.self)
            guard let hash = Mechanisms.digestName(params.hashAlg), let mgf = Mechanisms.mgfName(params.mgf),
                params.sLen <= 1024
            else { throw CKRError(CKR.mechanismParamInvalid) }
            let combined = hashOf(type)
            if let combined, combined != hash { throw CKRError(CKR.mechanismParamInvalid) }
            return SignatureScheme(
                keyType: CKK.rsa, padding: 2, digest: combined, pssDigest: hash, mgf: mgf,
                saltLength: Int32(params.sLen))
        case CKM.ecdsa:
            return SignatureScheme(keyType: CKK.ec, padding: 0, digest: nil, pssDigest: nil, mgf: nil, saltLength: 0)
        case CKM.ecdsaSHA1, CKM.ecdsaSHA224, CKM.ecdsaSHA256, CKM.ecdsaSHA384, CKM.ecdsaSHA512:
            return SignatureScheme(
                keyType: CKK.ec, padding: 0, digest: hashOf(type), pssDigest: nil, mgf: nil, saltLength: 0)
        case CKM.eddsa:
            try checkEdDSAParams(mechanism)
            return SignatureScheme(
                keyType: CKK.ecEdwards, padding: 0, digest: nil, pssDigest: nil, mgf: nil, saltLength: 0)
        default:
            throw CKRError(CKR.mechanismInvalid)
        }
    }

    private static func hashOf(_ type: CK_MECHANISM_TYPE) -> String? {
        switch type {
        case CKM.sha1RSAPKCS, CKM.sha1RSAPKCSPSS, CKM.ecdsaSHA1: "SHA1"
        case CKM.sha224RSAPKCS, CKM.sha224RSAPKCSPSS, CKM.ecdsaSHA224: "SHA224"
        case CKM.sha256RSAPKCS, CKM.sha256RSAPKCSPSS, CKM.ecdsaSHA256: "SHA256"
        case CKM.sha384RSAPKCS, CKM.sha384RSAPKCSPSS, CKM.ecdsaSHA384: "SHA384"
        case CKM.sha512RSAPKCS, CKM.sha512RSAPKCSPSS, CKM.ecdsaSHA512: "SHA512"
        default: nil
        }
    }
}
