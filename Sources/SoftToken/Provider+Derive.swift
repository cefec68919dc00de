internal import CPKCS11
import CSoftTokenCrypto

/// CK_ECDH1_DERIVE_PARAMS taken apart (PKCS#11 2.40 §2.3.15).
struct ECDHParameters {
    /// CKM_ECDH1_COFACTOR_DERIVE (on the NIST curves, whose cofactor is 1, the same secret).
    let cofactor: Bool
    /// The X9.63 KDF's hash (OpenSSL's name); nil for CKD_NULL, the raw secret.
    let kdf: String?
    let sharedData: [UInt8]
    /// The other party's point: raw (04‖X‖Y, or compressed) or in a DER OCTET STRING.
    let publicData: [UInt8]

    static func parse(_ mechanism: CK_MECHANISM) throws(CKRError) -> ECDHParameters {
        guard mechanism.mechanism == CKM.ecdh1Derive || mechanism.mechanism == CKM.ecdh1CofactorDerive else {
            throw CKRError(CKR.mechanismInvalid)
        }
        guard let parameter = mechanism.pParameter,
            mechanism.ulParameterLen == CK_ULONG(MemoryLayout<CK_ECDH1_DERIVE_PARAMS>.size)
        else {
            throw CKRError(CKR.mechanismParamInvalid)
        }
        let params = parameter.loadUnaligned(as: CK_ECDH1_DERIVE_PARAMS.self)
        let kdf: String?
        switch params.kdf {
        case CKD.null: kdf = nil
        case CKD.sha1: kdf = "SHA1"
        case CKD.sha224: kdf = "SHA224"
        case CKD.sha256: kdf = "SHA256"
        case CKD.sha384: kdf = "SHA384"
        case CKD.sha512: kdf = "SHA512"
        default: throw CKRError(CKR.mechanismParamInvalid)
        }
        // CKD_NULL takes no shared data; a length needs its bytes.
        if kdf == nil && params.ulSharedDataLen != 0 { throw CKRError(CKR.mechanismParamInvalid) }
        guard params.ulSharedDataLen == 0 || params.pSharedData != nil,
            params.ulPublicDataLen > 0, params.ulPublicDataLen <= 256, let publicData = params.pPublicData
        else {
            throw CKRError(CKR.mechanismParamInvalid)
        }
        let shared =
            params.ulSharedDataLen == 0
            ? [] : Array(UnsafeBufferPointer(start: params.pSharedData, count: Int(params.ulSharedDataLen)))
        return ECDHParameters(
            cofactor: mechanism.mechanism == CKM.ecdh1CofactorDerive, kdf: kdf, sharedData: shared,
            publicData: Array(UnsafeBufferPointer(start: publicData, count: Int(params.ulPublicDataLen))))
    }
}

extension Provider {
    /// C_DeriveKey with CKM_ECDH1_DERIVE or CKM_ECDH1_COFACTOR_DERIVE: a generic secret or AES
    /// key from the ECDH secret of an EC private key with CKA_DERIVE (and, where it has them,
    /// CKA_ALLOWED_MECHANISMS that name the mechanism). A call on the session, so that an
    /// always-authenticate key goes through the one context-login gate (authorizedKey): a
    /// strict token refuses the first call with CKR_USER_NOT_LOGGED_IN, and after
    /// C_Login(CKU_CONTEXT_SPECIFIC) the same call goes through once.
    func deriveKey(_ session: Session, mechanism: CK_MECHANISM, base: CK_OBJECT_HANDLE, template: Template)
        throws(CKRError) -> CK_OBJECT_HANDLE
    {
        let params = try ECDHParameters.parse(mechanism)
        var template = template
        defer { template.wipeAll() }
        let keyType = try derivedKeyType(&template)
        let operation = try shared { () throws(CKRError) -> KeyOperation in
            let object = try usableKey(session, base, class: CKO.privateKey, type: CKK.ec, permission: CKA.derive)
            if let pending = session.derive, pending.key.handle == object.handle,
                pending.mechanism == mechanism.mechanism
            {
                return pending
            }
            let operation = try beginKeyOperation(mechanism, key: object)
            session.derive = operation.needsContextLogin ? operation : nil
            return operation
        }
        let key: CryptoKey
        do throws(CKRError) {
            key = try authorizedKey(session, operation)
        } catch {
            // Only a refusal for want of the context login keeps the derivation for that login.
            if error.rv != CKR.userNotLoggedIn { session.derive = nil }
            throw error
        }
        session.derive = nil
        var value = try agreedValue(key, params, keyType: keyType, length: template.removeValue(forKey: CKA.valueLen))
        defer { wipe(&value) }
        template[CKA.value] = value
        template[CKA.class] = [UInt8](ulong: CKO.secretKey)
        template[CKA.keyType] = [UInt8](ulong: keyType)
        let base = operation.key
        return try shared { () throws(CKRError) -> CK_OBJECT_HANDLE in
            let origin = Origin.derived(
                alwaysSensitive: base.flag(CKA.alwaysSensitive), neverExtractable: base.flag(CKA.neverExtractable))
            let object = try makeObject(session, template: &template, origin: origin)
            try session.token.store(object)
            session.token.audit(key: base.auditName, operation: "derive (C_DeriveKey)", outcome: "done")
            return object.handle
        }
    }

    /// The new key's class and type from the template: a secret key (the default), generic
    /// (the default) or AES; the value is the token's to set.
    private func derivedKeyType(_ template: inout Template) throws(CKRError) -> CK_KEY_TYPE {
        if let objectClass = template[CKA.class] {
            guard objectClass.ulong == CKO.secretKey else { throw CKRError(CKR.templateInconsistent) }
        }
        if template[CKA.value] != nil { throw CKRError(CKR.templateInconsistent) }
        guard let given = template[CKA.keyType] else { return CKK.genericSecret }
        guard let keyType = given.ulong else { throw CKRError(CKR.attributeValueInvalid) }
        guard keyType == CKK.genericSecret || keyType == CKK.aes else { throw CKRError(CKR.templateInconsistent) }
        return keyType
    }

    /// The derived key's value: the ECDH secret Z, then with CKD_NULL its last CKA_VALUE_LEN
    /// bytes (as SoftHSM2 and Kryoptic take them), else CKA_VALUE_LEN bytes of the X9.63 KDF
    /// over Z and the shared data. Without CKA_VALUE_LEN, CKD_NULL gives all of Z (AES: the
    /// longest key size Z covers); a KDF needs it.
    private func agreedValue(_ key: CryptoKey, _ params: ECDHParameters, keyType: CK_KEY_TYPE, length: [UInt8]?)
        throws(CKRError) -> [UInt8]
    {
        guard key.isEC else { throw CKRError(CKR.keyTypeInconsistent) }
        var z = try sharedSecret(key, params)
        defer { wipe(&z) }
        var wanted: Int?
        if let length {
            guard let value = length.ulong, value <= 512 else { throw CKRError(CKR.attributeValueInvalid) }
            wanted = value == 0 ? nil : Int(value)
        }
        if keyType == CKK.aes {
            if let size = wanted {
                guard [16, 24, 32].contains(size) else { throw CKRError(CKR.attributeValueInvalid) }
            } else if params.kdf == nil {
                wanted = [32, 24, 16].first { $0 <= z.count }
            }
        }
        guard let kdf = params.kdf else {
            let size = wanted ?? z.count
            guard size <= z.count else { throw CKRError(CKR.templateInconsistent) }
            return Array(z[(z.count - size)...])
        }
        guard let size = wanted else { throw CKRError(CKR.templateIncomplete) }
        var out = [UInt8](repeating: 0, count: size)
        guard cbst_x963_kdf(kdf, z, z.count, params.sharedData, params.sharedData.count, &out, size) == 1 else {
            throw CKRError(CKR.functionFailed)
        }
        return out
    }

    /// Z from the key and the other party's point, which may come raw or in an OCTET STRING.
    private func sharedSecret(_ key: CryptoKey, _ params: ECDHParameters) throws(CKRError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 66)
        defer { wipe(&out) }
        var length = -2
        for point in [params.publicData, unwrapOctetString(params.publicData)].compactMap({ $0 }) where length == -2 {
            length = cbst_ecdh(key.pointer, params.cofactor ? 1 : 0, point, point.count, &out, out.count)
        }
        guard length > 0 else { throw CKRError(length == -2 ? CKR.mechanismParamInvalid : CKR.functionFailed) }
        return Array(out[0..<length])
    }
}
