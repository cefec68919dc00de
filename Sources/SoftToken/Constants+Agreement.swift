internal import CPKCS11

// The PKCS#11 values of key derivation (ECDH) and of Edwards-curve signatures (PKCS#11 3.0
// §2.3.5, §2.3.6), beside the others in Constants.swift.

extension CKK {
    static let ecEdwards: CK_KEY_TYPE = 0x40
}

extension CKM {
    static let ecdh1Derive: CK_MECHANISM_TYPE = 0x1050, ecdh1CofactorDerive: CK_MECHANISM_TYPE = 0x1051
    static let ecEdwardsKeyPairGen: CK_MECHANISM_TYPE = 0x1055, eddsa: CK_MECHANISM_TYPE = 0x1057
}

extension CKF {
    static let derive: CK_FLAGS = 0x80000
    /// CKF_EC_CURVENAME (3.0): CKA_EC_PARAMS may name the curve with a printable string.
    static let ecCurveName: CK_FLAGS = 0x0400_0000
}

/// CK_EC_KDF_TYPE values of CK_ECDH1_DERIVE_PARAMS.
enum CKD {
    static let null: CK_ULONG = 0x1, sha1: CK_ULONG = 0x2, sha224: CK_ULONG = 0x5, sha256: CK_ULONG = 0x6
    static let sha384: CK_ULONG = 0x7, sha512: CK_ULONG = 0x8
}
