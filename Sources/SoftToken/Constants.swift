internal import CPKCS11

/// The PKCS#11 values the software token speaks, by their spec names (pkcs11.h's macros with
/// casts do not import into Swift).
enum CKR {
    static let ok: CK_RV = 0x0, cancel: CK_RV = 0x1, hostMemory: CK_RV = 0x2, slotIDInvalid: CK_RV = 0x3
    static let generalError: CK_RV = 0x5, functionFailed: CK_RV = 0x6, argumentsBad: CK_RV = 0x7
    static let attributeReadOnly: CK_RV = 0x10, attributeSensitive: CK_RV = 0x11
    static let attributeTypeInvalid: CK_RV = 0x12, attributeValueInvalid: CK_RV = 0x13
    static let actionProhibited: CK_RV = 0x1B, dataInvalid: CK_RV = 0x20, dataLenRange: CK_RV = 0x21
    static let deviceError: CK_RV = 0x30, deviceMemory: CK_RV = 0x31, encryptedDataInvalid: CK_RV = 0x40
    static let encryptedDataLenRange: CK_RV = 0x41, functionNotSupported: CK_RV = 0x54
    static let keyHandleInvalid: CK_RV = 0x60, keySizeRange: CK_RV = 0x62, keyTypeInconsistent: CK_RV = 0x63
    static let keyFunctionNotPermitted: CK_RV = 0x68, keyNotWrappable: CK_RV = 0x69, keyUnextractable: CK_RV = 0x6A
    static let mechanismInvalid: CK_RV = 0x70, mechanismParamInvalid: CK_RV = 0x71
    static let objectHandleInvalid: CK_RV = 0x82, operationActive: CK_RV = 0x90, operationNotInitialized: CK_RV = 0x91
    static let pinIncorrect: CK_RV = 0xA0, pinInvalid: CK_RV = 0xA1, pinLenRange: CK_RV = 0xA2, pinLocked: CK_RV = 0xA4
    static let sessionClosed: CK_RV = 0xB0, sessionHandleInvalid: CK_RV = 0xB3
    static let sessionParallelNotSupported: CK_RV = 0xB4, sessionReadOnly: CK_RV = 0xB5, sessionExists: CK_RV = 0xB6
    static let sessionReadOnlyExists: CK_RV = 0xB7, sessionReadWriteSOExists: CK_RV = 0xB8
    static let signatureInvalid: CK_RV = 0xC0, signatureLenRange: CK_RV = 0xC1
    static let templateIncomplete: CK_RV = 0xD0, templateInconsistent: CK_RV = 0xD1
    static let tokenNotPresent: CK_RV = 0xE0, tokenNotRecognized: CK_RV = 0xE1, tokenWriteProtected: CK_RV = 0xE2
    static let unwrappingKeyHandleInvalid: CK_RV = 0xF0, unwrappingKeyTypeInconsistent: CK_RV = 0xF2
    static let userAlreadyLoggedIn: CK_RV = 0x100, userNotLoggedIn: CK_RV = 0x101, userPINNotInitialized: CK_RV = 0x102
    static let userTypeInvalid: CK_RV = 0x103, userAnotherAlreadyLoggedIn: CK_RV = 0x104
    static let wrappedKeyInvalid: CK_RV = 0x110, wrappedKeyLenRange: CK_RV = 0x112
    static let wrappingKeyHandleInvalid: CK_RV = 0x113, wrappingKeyTypeInconsistent: CK_RV = 0x115
    static let randomNoRNG: CK_RV = 0x121, bufferTooSmall: CK_RV = 0x150
    static let cryptokiNotInitialized: CK_RV = 0x190, cryptokiAlreadyInitialized: CK_RV = 0x191
    static let mutexBad: CK_RV = 0x1A0, curveNotSupported: CK_RV = 0x140, functionCanceled: CK_RV = 0x50
}

enum CKA {
    static let `class`: CK_ATTRIBUTE_TYPE = 0x0, token: CK_ATTRIBUTE_TYPE = 0x1, `private`: CK_ATTRIBUTE_TYPE = 0x2
    static let label: CK_ATTRIBUTE_TYPE = 0x3, application: CK_ATTRIBUTE_TYPE = 0x10, value: CK_ATTRIBUTE_TYPE = 0x11
    static let objectID: CK_ATTRIBUTE_TYPE = 0x12, certificateType: CK_ATTRIBUTE_TYPE = 0x80
    static let issuer: CK_ATTRIBUTE_TYPE = 0x81, serialNumber: CK_ATTRIBUTE_TYPE = 0x82,
        trusted: CK_ATTRIBUTE_TYPE = 0x86
    static let certificateCategory: CK_ATTRIBUTE_TYPE = 0x87
    static let keyType: CK_ATTRIBUTE_TYPE = 0x100, subject: CK_ATTRIBUTE_TYPE = 0x101, id: CK_ATTRIBUTE_TYPE = 0x102
    static let sensitive: CK_ATTRIBUTE_TYPE = 0x103, encrypt: CK_ATTRIBUTE_TYPE = 0x104,
        decrypt: CK_ATTRIBUTE_TYPE = 0x105
    static let wrap: CK_ATTRIBUTE_TYPE = 0x106, unwrap: CK_ATTRIBUTE_TYPE = 0x107, sign: CK_ATTRIBUTE_TYPE = 0x108
    static let signRecover: CK_ATTRIBUTE_TYPE = 0x109, verify: CK_ATTRIBUTE_TYPE = 0x10A
    static let verifyRecover: CK_ATTRIBUTE_TYPE = 0x10B, derive: CK_ATTRIBUTE_TYPE = 0x10C
    static let startDate: CK_ATTRIBUTE_TYPE = 0x110, endDate: CK_ATTRIBUTE_TYPE = 0x111
    static let modulus: CK_ATTRIBUTE_TYPE = 0x120, modulusBits: CK_ATTRIBUTE_TYPE = 0x121
    static let publicExponent: CK_ATTRIBUTE_TYPE = 0x122, privateExponent: CK_ATTRIBUTE_TYPE = 0x123
    static let prime1: CK_ATTRIBUTE_TYPE = 0x124, prime2: CK_ATTRIBUTE_TYPE = 0x125
    static let exponent1: CK_ATTRIBUTE_TYPE = 0x126, exponent2: CK_ATTRIBUTE_TYPE = 0x127
    static let coefficient: CK_ATTRIBUTE_TYPE = 0x128, publicKeyInfo: CK_ATTRIBUTE_TYPE = 0x129
    static let valueLen: CK_ATTRIBUTE_TYPE = 0x161, extractable: CK_ATTRIBUTE_TYPE = 0x162,
        local: CK_ATTRIBUTE_TYPE = 0x163
    static let neverExtractable: CK_ATTRIBUTE_TYPE = 0x164, alwaysSensitive: CK_ATTRIBUTE_TYPE = 0x165
    static let keyGenMechanism: CK_ATTRIBUTE_TYPE = 0x166, modifiable: CK_ATTRIBUTE_TYPE = 0x170
    static let copyable: CK_ATTRIBUTE_TYPE = 0x171, destroyable: CK_ATTRIBUTE_TYPE = 0x172
    static let ecParams: CK_ATTRIBUTE_TYPE = 0x180, ecPoint: CK_ATTRIBUTE_TYPE = 0x181
    static let alwaysAuthenticate: CK_ATTRIBUTE_TYPE = 0x202, wrapWithTrusted: CK_ATTRIBUTE_TYPE = 0x210
    static let allowedMechanisms: CK_ATTRIBUTE_TYPE = 0x4000_0600
    static let vendorDefined: CK_ATTRIBUTE_TYPE = 0x8000_0000
    /// CertBridge's vendor attribute: the High-level key password, given only in a creation
    /// template (C_CreateObject, C_GenerateKeyPair's private template, C_UnwrapKey); the token
    /// seals the key under it and never stores or returns it.
    static let keyPassword: CK_ATTRIBUTE_TYPE = CKA_CERTBRIDGE_KEY_PASSWORD
    /// CertBridge's vendor attribute, read-only: whether the key has its own password.
    static let hasKeyPassword: CK_ATTRIBUTE_TYPE = CKA_CERTBRIDGE_HAS_KEY_PASSWORD
    /// CertBridge's vendor attribute, read-only, on the integrity report object: how many of
    /// the token's objects failed their integrity check (CK_ULONG); its CKA_LABEL gives the
    /// reasons, one per line.
    static let integrityFailures: CK_ATTRIBUTE_TYPE = CKA_CERTBRIDGE_INTEGRITY_FAILURES
    /// CertBridge's vendor attribute: the approval each use needs (CK_ULONG, `Approval`), given
    /// in the creation template and fixed from then on; kept with the other private attributes,
    /// so inside the sealed part of the object file.
    static let approval: CK_ATTRIBUTE_TYPE = CKA_CERTBRIDGE_APPROVAL
    /// CertBridge's vendor attribute, read-only: wrong passwords left before the key locks.
    static let triesLeft: CK_ATTRIBUTE_TYPE = CKA_CERTBRIDGE_TRIES_LEFT
    /// CertBridge's vendor attribute, write-only (C_SetAttributeValue): the SO PIN, which resets
    /// the key's wrong-password count.
    static let unlockWithSOPIN: CK_ATTRIBUTE_TYPE = CKA_CERTBRIDGE_UNLOCK_WITH_SO_PIN
    /// Internal: the key material (PKCS#8 or the AES value) as stored, never returned.
    static let material: CK_ATTRIBUTE_TYPE = CKA_CERTBRIDGE_MATERIAL
    /// Internal: the material sealed under the key's own password, never returned.
    static let sealedMaterial: CK_ATTRIBUTE_TYPE = CKA_CERTBRIDGE_SEALED_MATERIAL

    /// Attributes the token keeps for itself; asking for them is CKR_ATTRIBUTE_TYPE_INVALID.
    static let hidden: Set<CK_ATTRIBUTE_TYPE> = [keyPassword, material, sealedMaterial, unlockWithSOPIN]
}

enum CKO {
    /// CertBridge's vendor class: the token's integrity report, found only by asking for this
    /// class (a find for it checks every object first), never listed otherwise.
    static let integrityReport: CK_OBJECT_CLASS = CKO_CERTBRIDGE_INTEGRITY_REPORT
    static let data: CK_OBJECT_CLASS = 0, certificate: CK_OBJECT_CLASS = 1, publicKey: CK_OBJECT_CLASS = 2
    static let privateKey: CK_OBJECT_CLASS = 3, secretKey: CK_OBJECT_CLASS = 4
}

enum CKK {
    static let rsa: CK_KEY_TYPE = 0, ec: CK_KEY_TYPE = 3, aes: CK_KEY_TYPE = 0x1F, genericSecret: CK_KEY_TYPE = 0x10
}

enum CKU {
    static let so: CK_USER_TYPE = 0, user: CK_USER_TYPE = 1, contextSpecific: CK_USER_TYPE = 2
}

enum CKS {
    static let roPublic: CK_STATE = 0, roUser: CK_STATE = 1, rwPublic: CK_STATE = 2, rwUser: CK_STATE = 3,
        rwSO: CK_STATE = 4
}

enum CKF {
    static let rng: CK_FLAGS = 0x1, writeProtected: CK_FLAGS = 0x2, loginRequired: CK_FLAGS = 0x4
    static let userPINInitialized: CK_FLAGS = 0x8, restoreKeyNotNeeded: CK_FLAGS = 0x20
    static let tokenInitialized: CK_FLAGS = 0x400, protectedAuthenticationPath: CK_FLAGS = 0x100
    static let userPINCountLow: CK_FLAGS = 0x10000, userPINFinalTry: CK_FLAGS = 0x20000,
        userPINLocked: CK_FLAGS = 0x40000
    static let soPINCountLow: CK_FLAGS = 0x100000, soPINFinalTry: CK_FLAGS = 0x200000, soPINLocked: CK_FLAGS = 0x400000
    // Slot flags
    static let tokenPresent: CK_FLAGS = 0x1
    // Session flags
    static let rwSession: CK_FLAGS = 0x2, serialSession: CK_FLAGS = 0x4
    // Mechanism flags
    static let hw: CK_FLAGS = 0x1, encrypt: CK_FLAGS = 0x100, decrypt: CK_FLAGS = 0x200, digest: CK_FLAGS = 0x400
    static let sign: CK_FLAGS = 0x800, verify: CK_FLAGS = 0x2000, generate: CK_FLAGS = 0x8000
    static let generateKeyPair: CK_FLAGS = 0x10000, wrap: CK_FLAGS = 0x20000, unwrap: CK_FLAGS = 0x40000
    static let ecFp: CK_FLAGS = 0x100000, ecNamedCurve: CK_FLAGS = 0x800000, ecUncompress: CK_FLAGS = 0x1000000
    // C_Initialize
    static let osLockingOK: CK_FLAGS = 0x2
}

enum CKM {
    static let rsaKeyPairGen: CK_MECHANISM_TYPE = 0x0, rsaPKCS: CK_MECHANISM_TYPE = 0x1,
        rsaX509: CK_MECHANISM_TYPE = 0x3
    static let rsaPKCSOAEP: CK_MECHANISM_TYPE = 0x9, rsaPKCSPSS: CK_MECHANISM_TYPE = 0xD
    static let sha1RSAPKCS: CK_MECHANISM_TYPE = 0x6, sha256RSAPKCS: CK_MECHANISM_TYPE = 0x40
    static let sha384RSAPKCS: CK_MECHANISM_TYPE = 0x41, sha512RSAPKCS: CK_MECHANISM_TYPE = 0x42
    static let sha224RSAPKCS: CK_MECHANISM_TYPE = 0x46
    static let sha1RSAPKCSPSS: CK_MECHANISM_TYPE = 0xE, sha256RSAPKCSPSS: CK_MECHANISM_TYPE = 0x43
    static let sha384RSAPKCSPSS: CK_MECHANISM_TYPE = 0x44, sha512RSAPKCSPSS: CK_MECHANISM_TYPE = 0x45
    static let sha224RSAPKCSPSS: CK_MECHANISM_TYPE = 0x47
    static let sha1: CK_MECHANISM_TYPE = 0x220, sha224: CK_MECHANISM_TYPE = 0x255, sha256: CK_MECHANISM_TYPE = 0x250
    static let sha384: CK_MECHANISM_TYPE = 0x260, sha512: CK_MECHANISM_TYPE = 0x270
    static let ecKeyPairGen: CK_MECHANISM_TYPE = 0x1040, ecdsa: CK_MECHANISM_TYPE = 0x1041
    static let ecdsaSHA1: CK_MECHANISM_TYPE = 0x1042, ecdsaSHA224: CK_MECHANISM_TYPE = 0x1043
    static let ecdsaSHA256: CK_MECHANISM_TYPE = 0x1044, ecdsaSHA384: CK_MECHANISM_TYPE = 0x1045
    static let ecdsaSHA512: CK_MECHANISM_TYPE = 0x1046
    static let aesKeyGen: CK_MECHANISM_TYPE = 0x1080, aesKeyWrapPad: CK_MECHANISM_TYPE = 0x210A
    static let aesECB: CK_MECHANISM_TYPE = 0x1081, aesCBC: CK_MECHANISM_TYPE = 0x1082,
        aesCBCPad: CK_MECHANISM_TYPE = 0x1085
    static let aesCTR: CK_MECHANISM_TYPE = 0x1086, aesGCM: CK_MECHANISM_TYPE = 0x1087
    static let sha1HMAC: CK_MECHANISM_TYPE = 0x221, sha224HMAC: CK_MECHANISM_TYPE = 0x256,
        sha256HMAC: CK_MECHANISM_TYPE = 0x251
    static let sha384HMAC: CK_MECHANISM_TYPE = 0x261, sha512HMAC: CK_MECHANISM_TYPE = 0x271,
        aesCMAC: CK_MECHANISM_TYPE = 0x108A
    static let genericSecretKeyGen: CK_MECHANISM_TYPE = 0x350
}

/// MGF1 identifiers in CK_RSA_PKCS_PSS_PARAMS / CK_RSA_PKCS_OAEP_PARAMS.
enum CKG {
    static let mgf1SHA1: CK_ULONG = 1, mgf1SHA256: CK_ULONG = 2, mgf1SHA384: CK_ULONG = 3
    static let mgf1SHA512: CK_ULONG = 4, mgf1SHA224: CK_ULONG = 5
}

/// CK_UNAVAILABLE_INFORMATION.
let unavailable = CK_ULONG.max
