internal import CPKCS11

/// CKK_EC_EDWARDS keys (PKCS#11 3.0 §2.3.5): made by CKM_EC_EDWARDS_KEY_PAIR_GEN, or brought
/// in by C_CreateObject with CKA_EC_PARAMS and CKA_VALUE (the raw private key) or CKA_EC_POINT
/// (the raw public key in a DER OCTET STRING). Stored, like every private key, as PKCS#8.
extension Provider {
    /// C_GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN): the curve from the public template's
    /// CKA_EC_PARAMS, which both halves keep in the form the caller gave.
    func generateEdwards(publicTemplate: inout Template, privateTemplate: inout Template) throws(CKRError) -> CryptoKey
    {
        guard let params = publicTemplate[CKA.ecParams] ?? privateTemplate[CKA.ecParams] else {
            throw CKRError(CKR.templateIncomplete)
        }
        guard let curve = EdwardsCurve(params: params) else { throw CKRError(CKR.curveNotSupported) }
        for template in [publicTemplate, privateTemplate] {
            if let type = template.ulong(CKA.keyType), type != CKK.ecEdwards {
                throw CKRError(CKR.templateInconsistent)
            }
            if let other = template[CKA.ecParams], EdwardsCurve(params: other) != curve {
                throw CKRError(CKR.templateInconsistent)
            }
        }
        publicTemplate[CKA.keyType] = [UInt8](ulong: CKK.ecEdwards)
        privateTemplate[CKA.keyType] = [UInt8](ulong: CKK.ecEdwards)
        publicTemplate[CKA.ecParams] = params
        if privateTemplate[CKA.ecParams] == nil { privateTemplate[CKA.ecParams] = params }
        return try curve.generate()
    }

    /// CKA_EC_PARAMS and CKA_EC_POINT of an Edwards key: the caller's CKA_EC_PARAMS where it
    /// names the key's curve (a template naming another curve is inconsistent), else the RFC
    /// 8410 OID.
    func describeEdwards(_ key: CryptoKey, into attributes: inout AttributeMap) throws(CKRError) {
        if attributes.ulong(CKA.keyType) == nil { attributes[CKA.keyType] = [UInt8](ulong: CKK.ecEdwards) }
        guard attributes.ulong(CKA.keyType) == CKK.ecEdwards else { throw CKRError(CKR.templateInconsistent) }
        guard let curve = EdwardsCurve(key), let point = key.component("ec_point") else {
            throw CKRError(CKR.curveNotSupported)
        }
        if let given = attributes[CKA.ecParams] {
            guard EdwardsCurve(params: given) == curve else { throw CKRError(CKR.templateInconsistent) }
        } else {
            attributes[CKA.ecParams] = curve.params
        }
        attributes[CKA.ecPoint] = derOctetString(point)
    }

    func edwardsPublicKey(from attributes: AttributeMap) throws(CKRError) -> CryptoKey {
        guard let params = attributes[CKA.ecParams], let point = attributes[CKA.ecPoint] else {
            throw CKRError(CKR.templateIncomplete)
        }
        guard let curve = EdwardsCurve(params: params) else { throw CKRError(CKR.curveNotSupported) }
        return try curve.publicKey(point)
    }

    /// The private key from CKA_VALUE, which leaves the attributes (it lives on only inside the
    /// material). A CKA_EC_POINT given beside it must be the key's own.
    func edwardsPrivateKey(from attributes: inout AttributeMap) throws(CKRError) -> CryptoKey {
        guard let params = attributes[CKA.ecParams], var value = attributes.removeValue(forKey: CKA.value) else {
            throw CKRError(CKR.templateIncomplete)
        }
        defer { wipe(&value) }
        guard let curve = EdwardsCurve(params: params) else { throw CKRError(CKR.curveNotSupported) }
        let key = try curve.privateKey(value)
        if let point = attributes[CKA.ecPoint] {
            let given = unwrapOctetString(point) ?? point
            guard given == key.component("ec_point") else { throw CKRError(CKR.templateInconsistent) }
        }
        return key
    }
}
