internal import CPKCS11

/// Which attributes an object of a class (and key type) can have at all, by PKCS#11 v2.40 §4
/// (3.0 for CKK_EC_EDWARDS/CKK_EC_MONTGOMERY): an attribute outside the list in a template of
/// C_CreateObject, C_GenerateKey(Pair), C_UnwrapKey, C_CopyObject or C_SetAttributeValue is
/// CKR_ATTRIBUTE_TYPE_INVALID (§5.2: "an attribute type that is not valid for the object").
/// Vendor-defined attributes (CertBridge's own) are checked where they are read.
enum AttributeApplicability {
    private static let storage: Set<CK_ATTRIBUTE_TYPE> = [
        CKA.class, CKA.token, CKA.private, CKA.label, CKA.modifiable, CKA.copyable, CKA.destroyable,
        CKA.uniqueID,
    ]
    private static let data: Set<CK_ATTRIBUTE_TYPE> = [CKA.application, CKA.objectID, CKA.value]
    private static let certificate: Set<CK_ATTRIBUTE_TYPE> = [
        CKA.certificateType, CKA.trusted, CKA.certificateCategory, CKA.checkValue, CKA.startDate, CKA.endDate,
        CKA.publicKeyInfo, CKA.subject, CKA.id, CKA.issuer, CKA.serialNumber, CKA.value,
        CKA.url, CKA.hashOfSubjectPublicKey, CKA.hashOfIssuerPublicKey, CKA.nameHashAlgorithm,
        CKA.javaMidpSecurityDomain,
        CKA.acIssuer, CKA.owner, CKA.attrTypes,  // attribute certificates
    ]
    private static let key: Set<CK_ATTRIBUTE_TYPE> = [
        CKA.keyType, CKA.id, CKA.startDate, CKA.endDate, CKA.derive, CKA.local, CKA.keyGenMechanism,
        CKA.allowedMechanisms,
    ]
    private static let publicKey: Set<CK_ATTRIBUTE_TYPE> = [
        CKA.subject, CKA.encrypt, CKA.verify, CKA.verifyRecover, CKA.wrap, CKA.trusted, CKA.wrapTemplate,
        CKA.publicKeyInfo,
    ]
    private static let privateKey: Set<CK_ATTRIBUTE_TYPE> = [
        CKA.subject, CKA.sensitive, CKA.decrypt, CKA.sign, CKA.signRecover, CKA.unwrap, CKA.extractable,
        CKA.alwaysSensitive, CKA.neverExtractable, CKA.wrapWithTrusted, CKA.unwrapTemplate, CKA.alwaysAuthenticate,
        CKA.publicKeyInfo, CKA.deriveTemplate,
    ]
    private static let secretKey: Set<CK_ATTRIBUTE_TYPE> = [
        CKA.sensitive, CKA.encrypt, CKA.decrypt, CKA.sign, CKA.verify, CKA.wrap, CKA.unwrap, CKA.extractable,
        CKA.alwaysSensitive, CKA.neverExtractable, CKA.checkValue, CKA.wrapWithTrusted, CKA.trusted,
        CKA.wrapTemplate, CKA.unwrapTemplate, CKA.deriveTemplate, CKA.value, CKA.valueLen,
        // Not in §4.10, but the token's High level applies to secret keys as to private ones.
        CKA.alwaysAuthenticate,
    ]
    /// By key type, for public (first) and private (second) keys. CKA_MODULUS_BITS on a private
    /// key and CKA_EC_POINT on a private EC key are not in §6 but are the token's own answers
    /// for those keys (and what clients copy from the public key's template).
    private static let rsa: (Set<CK_ATTRIBUTE_TYPE>, Set<CK_ATTRIBUTE_TYPE>) = (
        [CKA.modulus, CKA.modulusBits, CKA.publicExponent],
        [
            CKA.modulus, CKA.modulusBits, CKA.publicExponent, CKA.privateExponent, CKA.prime1, CKA.prime2,
            CKA.exponent1, CKA.exponent2, CKA.coefficient,
        ]
    )
    private static let ec: (Set<CK_ATTRIBUTE_TYPE>, Set<CK_ATTRIBUTE_TYPE>) = (
        [CKA.ecParams, CKA.ecPoint], [CKA.ecParams, CKA.ecPoint, CKA.value]
    )

    /// Whether an object of this class and key type can have the attribute.
    static func applies(_ type: CK_ATTRIBUTE_TYPE, objectClass: CK_OBJECT_CLASS?, keyType: CK_KEY_TYPE?) -> Bool {
        if type & CKA.vendorDefined != 0 || storage.contains(type) { return true }
        switch objectClass {
        case CKO.data: return data.contains(type)
        case CKO.certificate: return certificate.contains(type)
        case CKO.secretKey: return key.contains(type) || secretKey.contains(type)
        case CKO.publicKey, CKO.privateKey:
            let isPublic = objectClass == CKO.publicKey
            if key.contains(type) || (isPublic ? publicKey : privateKey).contains(type) { return true }
            let byType: [(Set<CK_ATTRIBUTE_TYPE>, Set<CK_ATTRIBUTE_TYPE>)]
            switch keyType {
            case CKK.rsa: byType = [rsa]
            case CKK.ec, CKK.ecEdwards, CKK.ecMontgomery: byType = [ec]
            default: byType = [rsa, ec]  // the type is checked elsewhere; here any of them may apply
            }
            return byType.contains { (isPublic ? $0.0 : $0.1).contains(type) }
        default:
            // An unknown class is refused where the class is read.
            return true
        }
    }

    /// CKR_ATTRIBUTE_TYPE_INVALID for the first attribute of `template` that an object of this
    /// class and key type cannot have.
    static func check(_ template: Template, objectClass: CK_OBJECT_CLASS?, keyType: CK_KEY_TYPE?) throws(CKRError) {
        for type in template.keys where !applies(type, objectClass: objectClass, keyType: keyType) {
            throw CKRError(CKR.attributeTypeInvalid)
        }
    }
}
