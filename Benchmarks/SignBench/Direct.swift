import CPKCS11
import Crypto
import Foundation

/// The peer: the raw function list, called as a C program would call it, on the same module,
/// token and key as the store.
@MainActor
final class Direct {
    let f: CK_FUNCTION_LIST
    var session: CK_SESSION_HANDLE = 0
    var key: CK_OBJECT_HANDLE = 0

    init(modulePath: String, tokenLabel: String, keyID: UInt8) {
        guard let lib = dlopen(modulePath, RTLD_NOW), let sym = dlsym(lib, "C_GetFunctionList") else {
            fail("dlopen \(modulePath)")
        }
        typealias Get = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CK_FUNCTION_LIST>?>?) -> CK_RV
        var list: UnsafeMutablePointer<CK_FUNCTION_LIST>?
        guard unsafeBitCast(sym, to: Get.self)(&list) == CKR_OK, let list else { fail("C_GetFunctionList") }
        f = list.pointee
        _ = f.C_Initialize(nil)  // already initialized by the safe layer: CKR_CRYPTOKI_ALREADY_INITIALIZED
        var slots = [CK_SLOT_ID](repeating: 0, count: 64)
        var n = CK_ULONG(slots.count)
        _ = f.C_GetSlotList(1, &slots, &n)
        let slot = slots[0..<Int(n)].first { id in
            var info = CK_TOKEN_INFO()
            _ = f.C_GetTokenInfo(id, &info)
            return withUnsafeBytes(of: info.label) { String(decoding: $0, as: UTF8.self) }.hasPrefix(tokenLabel + " ")
        }
        guard let slot else { fail("no token \(tokenLabel)") }
        guard f.C_OpenSession(slot, CK_FLAGS(CKF_SERIAL_SESSION), nil, nil, &session) == CKR_OK else {
            fail("C_OpenSession")
        }
        var pin = benchUserPIN
        let rv = f.C_Login(session, CK_USER_TYPE(CKU_USER), &pin, CK_ULONG(pin.count))
        guard rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN else { fail("C_Login \(rv)") }
        var keyClass = CK_OBJECT_CLASS(CKO_PRIVATE_KEY)
        var id = keyID
        withUnsafeMutablePointer(to: &keyClass) { keyClass in
            withUnsafeMutablePointer(to: &id) { id in
                var template = [
                    CK_ATTRIBUTE(
                        type: CK_ATTRIBUTE_TYPE(CKA_CLASS), pValue: keyClass,
                        ulValueLen: CK_ULONG(MemoryLayout<CK_OBJECT_CLASS>.size)),
                    CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(CKA_ID), pValue: id, ulValueLen: 1),
                ]
                _ = f.C_FindObjectsInit(session, &template, 2)
            }
        }
        var found: CK_ULONG = 0
        _ = f.C_FindObjects(session, &key, 1, &found)
        _ = f.C_FindObjectsFinal(session)
        guard found == 1 else { fail("key \(keyID) not found") }
    }

    /// C_SignInit [+ C_Login(CKU_CONTEXT_SPECIFIC)] + C_Sign for each input; `prehash` hashes
    /// in software first (ECDSA). Returns signatures per second.
    func run(_ inputs: [[UInt8]], mechanism: CK_MECHANISM_TYPE, prehash: Bool, contextLogin: Bool = false) -> Double {
        var mech = CK_MECHANISM(mechanism: mechanism, pParameter: nil, ulParameterLen: 0)
        var signature = [UInt8](repeating: 0, count: 512)
        var pin = benchUserPIN
        let start = DispatchTime.now().uptimeNanoseconds
        for input in inputs {
            var data = prehash ? Array(SHA256.hash(data: input)) : input
            var length = CK_ULONG(signature.count)
            guard f.C_SignInit(session, &mech, key) == CKR_OK else { fail("direct C_SignInit") }
            if contextLogin {
                guard f.C_Login(session, CK_USER_TYPE(CKU_CONTEXT_SPECIFIC), &pin, CK_ULONG(pin.count)) == CKR_OK else {
                    fail("direct C_Login(CONTEXT_SPECIFIC)")
                }
            }
            guard f.C_Sign(session, &data, CK_ULONG(data.count), &signature, &length) == CKR_OK else {
                fail("direct C_Sign")
            }
        }
        return Double(inputs.count) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}
