import CPKCS11
import CSoftTokenExports
import SoftToken

/// The module's one exported symbol: PKCS#11 applications dlopen libcertbridge-softtoken.so and
/// find every other entry point through this table.
@_cdecl("C_GetFunctionList")
public func getFunctionList(_ list: UnsafeMutablePointer<UnsafeMutablePointer<CK_FUNCTION_LIST>?>?) -> CK_RV {
    guard let list else { return CK_RV(CKR_ARGUMENTS_BAD) }
    list.pointee = functionList
    return CK_RV(CKR_OK)
}

/// Allocated once and never freed: applications keep the pointer for the life of the process.
nonisolated(unsafe) private let functionList: UnsafeMutablePointer<CK_FUNCTION_LIST> = {
    let list = UnsafeMutablePointer<CK_FUNCTION_LIST>.allocate(capacity: 1)
    list.initialize(to: makeFunctionList())
    return list
}()

private let notSupported = CK_RV(CKR_FUNCTION_NOT_SUPPORTED)
private let notParallel = CK_RV(CKR_FUNCTION_NOT_PARALLEL)

private func makeFunctionList() -> CK_FUNCTION_LIST {
    var f = CK_FUNCTION_LIST()
    f.version = CK_VERSION(major: 2, minor: 40)
    f.C_Initialize = { SoftTokenEntry.initialize($0) }
    f.C_Finalize = { SoftTokenEntry.finalize($0) }
    f.C_GetInfo = { SoftTokenEntry.getInfo($0) }
    f.C_GetFunctionList = { getFunctionList($0) }
    f.C_GetSlotList = { SoftTokenEntry.getSlotList($0, $1, $2) }
    f.C_GetSlotInfo = { SoftTokenEntry.getSlotInfo($0, $1) }
    f.C_GetTokenInfo = { SoftTokenEntry.getTokenInfo($0, $1) }
    f.C_GetMechanismList = { SoftTokenEntry.getMechanismList($0, $1, $2) }
    f.C_GetMechanismInfo = { SoftTokenEntry.getMechanismInfo($0, $1, $2) }
    f.C_InitToken = { SoftTokenEntry.initToken($0, $1, $2, $3) }
    f.C_InitPIN = { SoftTokenEntry.initPIN($0, $1, $2) }
    f.C_SetPIN = { SoftTokenEntry.setPIN($0, $1, $2, $3, $4) }
    f.C_OpenSession = { SoftTokenEntry.openSession($0, $1, $2, $3, $4) }
    f.C_CloseSession = { SoftTokenEntry.closeSession($0) }
    f.C_CloseAllSessions = { SoftTokenEntry.closeAllSessions($0) }
    f.C_GetSessionInfo = { SoftTokenEntry.getSessionInfo($0, $1) }
    // Operation state is not saved: both answer CKR_FUNCTION_NOT_SUPPORTED, as PKCS#11 allows.
    f.C_GetOperationState = { _, _, _ in notSupported }
    f.C_SetOperationState = { _, _, _, _, _ in notSupported }
    f.C_Login = { SoftTokenEntry.login($0, $1, $2, $3) }
    f.C_Logout = { SoftTokenEntry.logout($0) }
    f.C_CreateObject = { SoftTokenEntry.createObject($0, $1, $2, $3) }
    f.C_CopyObject = { SoftTokenEntry.copyObject($0, $1, $2, $3, $4) }
    f.C_DestroyObject = { SoftTokenEntry.destroyObject($0, $1) }
    f.C_GetObjectSize = { _, _, _ in notSupported }
    f.C_GetAttributeValue = { SoftTokenEntry.getAttributeValue($0, $1, $2, $3) }
    f.C_SetAttributeValue = { SoftTokenEntry.setAttributeValue($0, $1, $2, $3) }
    f.C_FindObjectsInit = { SoftTokenEntry.findObjectsInit($0, $1, $2) }
    f.C_FindObjects = { SoftTokenEntry.findObjects($0, $1, $2, $3) }
    f.C_FindObjectsFinal = { SoftTokenEntry.findObjectsFinal($0) }
    f.C_EncryptInit = { SoftTokenEntry.encryptInit($0, $1, $2) }
    f.C_Encrypt = { SoftTokenEntry.encrypt($0, $1, $2, $3, $4) }
    f.C_EncryptUpdate = { SoftTokenEntry.encryptUpdate($0, $1, $2, $3, $4) }
    f.C_EncryptFinal = { SoftTokenEntry.encryptFinal($0, $1, $2) }
    f.C_DecryptInit = { SoftTokenEntry.decryptInit($0, $1, $2) }
    f.C_Decrypt = { SoftTokenEntry.decrypt($0, $1, $2, $3, $4) }
    f.C_DecryptUpdate = { SoftTokenEntry.decryptUpdate($0, $1, $2, $3, $4) }
    f.C_DecryptFinal = { SoftTokenEntry.decryptFinal($0, $1, $2) }
    f.C_DigestInit = { SoftTokenEntry.digestInit($0, $1) }
    f.C_Digest = { SoftTokenEntry.digest($0, $1, $2, $3, $4) }
    f.C_DigestUpdate = { SoftTokenEntry.digestUpdate($0, $1, $2) }
    f.C_DigestKey = { SoftTokenEntry.digestKey($0, $1) }
    f.C_DigestFinal = { SoftTokenEntry.digestFinal($0, $1, $2) }
    f.C_SignInit = { SoftTokenEntry.signInit($0, $1, $2) }
    f.C_Sign = { SoftTokenEntry.sign($0, $1, $2, $3, $4) }
    f.C_SignUpdate = { SoftTokenEntry.signUpdate($0, $1, $2) }
    f.C_SignFinal = { SoftTokenEntry.signFinal($0, $1, $2) }
    f.C_SignRecoverInit = { _, _, _ in notSupported }
    f.C_SignRecover = { _, _, _, _, _ in notSupported }
    f.C_VerifyInit = { SoftTokenEntry.verifyInit($0, $1, $2) }
    f.C_Verify = { SoftTokenEntry.verify($0, $1, $2, $3, $4) }
    f.C_VerifyUpdate = { SoftTokenEntry.verifyUpdate($0, $1, $2) }
    f.C_VerifyFinal = { SoftTokenEntry.verifyFinal($0, $1, $2) }
    f.C_VerifyRecoverInit = { _, _, _ in notSupported }
    f.C_VerifyRecover = { _, _, _, _, _ in notSupported }
    f.C_DigestEncryptUpdate = { _, _, _, _, _ in notSupported }
    f.C_DecryptDigestUpdate = { _, _, _, _, _ in notSupported }
    f.C_SignEncryptUpdate = { _, _, _, _, _ in notSupported }
    f.C_DecryptVerifyUpdate = { _, _, _, _, _ in notSupported }
    f.C_GenerateKey = { SoftTokenEntry.generateKey($0, $1, $2, $3, $4) }
    f.C_GenerateKeyPair = { SoftTokenEntry.generateKeyPair($0, $1, $2, $3, $4, $5, $6, $7) }
    f.C_WrapKey = { SoftTokenEntry.wrapKey($0, $1, $2, $3, $4, $5) }
    f.C_UnwrapKey = { SoftTokenEntry.unwrapKey($0, $1, $2, $3, $4, $5, $6, $7) }
    f.C_DeriveKey = { SoftTokenEntry.deriveKey($0, $1, $2, $3, $4, $5) }
    f.C_SeedRandom = { SoftTokenEntry.seedRandom($0, $1, $2) }
    f.C_GenerateRandom = { SoftTokenEntry.generateRandom($0, $1, $2) }
    f.C_GetFunctionStatus = { _ in notParallel }
    f.C_CancelFunction = { _ in notParallel }
    f.C_WaitForSlotEvent = { _, _, _ in notSupported }
    return f
}
