internal import CPKCS11

// CertBridge's own PKCS#11 values, from Sources/CPKCS11/certbridge_vendor.h, beside the spec's
// in the generated Constants.swift.

extension CKA {
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

extension CKO {
    /// CertBridge's vendor class: the token's integrity report, found only by asking for this
    /// class (a find for it checks every object first), never listed otherwise.
    static let integrityReport: CK_OBJECT_CLASS = CKO_CERTBRIDGE_INTEGRITY_REPORT
}

/// CK_UNAVAILABLE_INFORMATION, as the token code calls it.
let unavailable = CK.unavailableInformation
