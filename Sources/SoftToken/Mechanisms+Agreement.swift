internal import CPKCS11

extension Mechanisms {
    private static let ecCurves = CKF.ecFp | CKF.ecNamedCurve | CKF.ecUncompress

    /// ECDH key derivation on the NIST curves and EdDSA on the Edwards curves.
    static let agreement: [Info] = [
        Info(type: CKM.ecdh1Derive, minKey: 256, maxKey: 521, flags: CKF.derive | ecCurves),
        Info(type: CKM.ecdh1CofactorDerive, minKey: 256, maxKey: 521, flags: CKF.derive | ecCurves),
        Info(
            type: CKM.ecEdwardsKeyPairGen, minKey: 255, maxKey: 448,
            flags: CKF.generateKeyPair | CKF.ecNamedCurve | CKF.ecCurveName),
        Info(
            type: CKM.eddsa, minKey: 255, maxKey: 448, flags: CKF.sign | CKF.verify | CKF.ecNamedCurve | CKF.ecCurveName
        ),
    ]
}

extension SignatureScheme {
    /// CK_EDDSA_PARAMS {CK_BBOOL phFlag; CK_ULONG ulContextDataLen; CK_BYTE_PTR pContextData}
    /// is optional. Only pure EdDSA without a context is done (OpenSSL 3.0 has neither
    /// Ed25519ph/Ed448ph nor contexts), so a parameter must say phFlag false and no context.
    static func checkEdDSAParams(_ mechanism: CK_MECHANISM) throws(CKRError) {
        guard mechanism.ulParameterLen != 0 else { return }
        let size = 3 * MemoryLayout<CK_ULONG>.size  // the bool is padded to the CK_ULONG that follows
        guard let parameter = mechanism.pParameter, mechanism.ulParameterLen == CK_ULONG(size) else {
            throw CKRError(CKR.mechanismParamInvalid)
        }
        let prehash = parameter.load(fromByteOffset: 0, as: UInt8.self)
        let contextLength = parameter.loadUnaligned(fromByteOffset: MemoryLayout<CK_ULONG>.size, as: CK_ULONG.self)
        guard prehash == 0, contextLength == 0 else { throw CKRError(CKR.mechanismParamInvalid) }
    }
}
