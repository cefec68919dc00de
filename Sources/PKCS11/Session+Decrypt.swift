internal import CPKCS11

extension Session {
    /// C_DecryptInit.
    public func decryptInit(_ mechanism: Mechanism, key: Object) throws(PKCS11Error) {
        let functions = slot.module.functions.pointee
        try withMechanism(mechanism) { (mech) throws(PKCS11Error) in
            try check("C_DecryptInit", functions.C_DecryptInit?(handle, mech, key.handle))
        }
    }

    /// C_Decrypt after C_DecryptInit, single-part. Asks for the length first so the buffer fits.
    public func decrypt(_ data: [UInt8]) throws(PKCS11Error) -> [UInt8] {
        let functions = slot.module.functions.pointee
        var data = data
        var length: CK_ULONG = 0
        try check("C_Decrypt", functions.C_Decrypt?(handle, &data, CK_ULONG(data.count), nil, &length))
        var out = [UInt8](repeating: 0, count: Int(length))
        try check("C_Decrypt", functions.C_Decrypt?(handle, &data, CK_ULONG(data.count), &out, &length))
        out.removeLast(out.count - Int(length))
        return out
    }

    /// C_DeriveKey with CKM_ECDH1_DERIVE and CKD_NULL: the raw ECDH shared secret (the x
    /// coordinate) as a new key object made from `template`. `publicData` is the other party's
    /// public point, uncompressed (04‖X‖Y).
    public func deriveECDH(key: Object, publicData: [UInt8], template: [Attribute]) throws(PKCS11Error) -> Object {
        let functions = slot.module.functions.pointee
        var derived: CK_OBJECT_HANDLE = 0
        var point = publicData
        try point.withUnsafeMutableBufferPointer { (point) throws(PKCS11Error) in
            var params = CK_ECDH1_DERIVE_PARAMS(
                kdf: CK_ULONG(CKD_NULL), ulSharedDataLen: 0, pSharedData: nil,
                ulPublicDataLen: CK_ULONG(point.count), pPublicData: point.baseAddress)
            try withUnsafeMutableBytes(of: &params) { (raw) throws(PKCS11Error) in
                var mech = CK_MECHANISM(
                    mechanism: CK_MECHANISM_TYPE(CKM_ECDH1_DERIVE), pParameter: raw.baseAddress,
                    ulParameterLen: CK_ULONG(raw.count))
                try withTemplate(template) { (attrs, count) throws(PKCS11Error) in
                    try check("C_DeriveKey", functions.C_DeriveKey?(handle, &mech, key.handle, attrs, count, &derived))
                }
            }
        }
        return Object(session: self, handle: derived)
    }
}

extension Mechanism {
    /// RSA-OAEP with its CK_RSA_PKCS_OAEP_PARAMS {hashAlg, mgf, CKZ_DATA_SPECIFIED, no label}.
    public static func oaep(hash: MechanismType, mgf: MaskGeneration) -> Mechanism {
        // The label pointer is null and its length 0: both fit a CK_ULONG slot on LP64.
        Mechanism(.rsaPKCSOAEP, parameter: ulongBytes([hash.rawValue, mgf.rawValue, 1, 0, 0]))
    }
}
