internal import CPKCS11
import Foundation
import TestSupport
import Testing

/// The module exports every C_* entry point by name, as SoftHSM2 does, and PKCS#11 3.0's
/// C_GetInterfaceList/C_GetInterface, all reaching the same function list.
@Suite("software token exported symbols")
struct ExportedSymbolTests {
    static let names = [
        "C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetSlotList", "C_GetSlotInfo",
        "C_GetTokenInfo", "C_WaitForSlotEvent", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken", "C_InitPIN",
        "C_SetPIN", "C_OpenSession", "C_CloseSession", "C_CloseAllSessions", "C_GetSessionInfo", "C_GetOperationState",
        "C_SetOperationState", "C_Login", "C_Logout", "C_CreateObject", "C_CopyObject", "C_DestroyObject",
        "C_GetObjectSize", "C_GetAttributeValue", "C_SetAttributeValue", "C_FindObjectsInit", "C_FindObjects",
        "C_FindObjectsFinal", "C_EncryptInit", "C_Encrypt", "C_EncryptUpdate", "C_EncryptFinal", "C_DecryptInit",
        "C_Decrypt", "C_DecryptUpdate", "C_DecryptFinal", "C_DigestInit", "C_Digest", "C_DigestUpdate", "C_DigestKey",
        "C_DigestFinal", "C_SignInit", "C_Sign", "C_SignUpdate", "C_SignFinal", "C_SignRecoverInit", "C_SignRecover",
        "C_VerifyInit", "C_Verify", "C_VerifyUpdate", "C_VerifyFinal", "C_VerifyRecoverInit", "C_VerifyRecover",
        "C_DigestEncryptUpdate", "C_DecryptDigestUpdate", "C_SignEncryptUpdate", "C_DecryptVerifyUpdate",
        "C_GenerateKey", "C_GenerateKeyPair", "C_WrapKey", "C_UnwrapKey", "C_DeriveKey", "C_SeedRandom",
        "C_GenerateRandom", "C_GetFunctionStatus", "C_CancelFunction",
    ]

    @Test(
        "every C_* function of PKCS#11 2.40 and C_GetInterfaceList/C_GetInterface are exported; the interface is \"PKCS 11\" with the function list C_GetFunctionList gives"
    )
    func everyEntryPointExported() throws {
        _ = try SoftTokenRig.module()
        guard let handle = dlopen(SoftTokenRig.modulePath, RTLD_NOW | RTLD_LOCAL) else {
            throw TestSupportError("dlopen: \(String(cString: dlerror()))")
        }
        for name in Self.names + ["C_GetInterfaceList", "C_GetInterface"] {
            #expect(dlsym(handle, name) != nil, "\(name) is not exported")
        }
        typealias GetList = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CK_FUNCTION_LIST>?>?) -> CK_RV
        typealias Interfaces = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<CK_ULONG>?) -> CK_RV
        typealias GetInfo = @convention(c) (UnsafeMutablePointer<CK_INFO>?) -> CK_RV
        let getList = unsafeBitCast(try #require(dlsym(handle, "C_GetFunctionList")), to: GetList.self)
        var list: UnsafeMutablePointer<CK_FUNCTION_LIST>?
        #expect(getList(&list) == CKR_OK)
        let interfaces = unsafeBitCast(try #require(dlsym(handle, "C_GetInterfaceList")), to: Interfaces.self)
        var count: CK_ULONG = 0
        #expect(interfaces(nil, &count) == CKR_OK)
        #expect(count == 1)
        // CK_INTERFACE: name, function list, flags.
        let entry = UnsafeMutableRawPointer.allocate(byteCount: 3 * 8, alignment: 8)
        defer { entry.deallocate() }
        #expect(interfaces(entry, &count) == CKR_OK)
        let name = entry.load(as: UnsafePointer<CChar>.self)
        #expect(String(cString: name) == "PKCS 11")
        #expect(entry.load(fromByteOffset: 8, as: UnsafeMutableRawPointer.self) == UnsafeMutableRawPointer(list))
        // The exported C_GetInfo is the module's own: initialised by the rig, it answers.
        let getInfo = unsafeBitCast(try #require(dlsym(handle, "C_GetInfo")), to: GetInfo.self)
        var info = CK_INFO()
        #expect(getInfo(&info) == CKR_OK)
        #expect(
            withUnsafeBytes(of: info.manufacturerID) { String(decoding: $0, as: UTF8.self) }.hasPrefix("CertBridge"))
    }
}
