// The rows that show how a module behaves as a token grows, and the module-level rows that
// have no CertStore counterpart: each runs on the raw function list, as a C client would, and
// prints `ROW name median min max` lines (times in ms, rates per second) for scripts/bench.
import CPKCS11
import Crypto
import Foundation

/// The raw function list of a module, loaded with dlopen (not through CertStore, so that
/// C_Initialize/C_Finalize can be timed again and again).
struct RawModule {
    let f: CK_FUNCTION_LIST

    init(path: String) {
        guard let lib = dlopen(path, RTLD_NOW), let sym = dlsym(lib, "C_GetFunctionList") else {
            fail("dlopen \(path)")
        }
        typealias Get = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CK_FUNCTION_LIST>?>?) -> CK_RV
        var list: UnsafeMutablePointer<CK_FUNCTION_LIST>?
        guard unsafeBitCast(sym, to: Get.self)(&list) == CKR_OK, let list else { fail("C_GetFunctionList") }
        f = list.pointee
    }

    /// C_Initialize telling the module that threads may call it (CKF_OS_LOCKING_OK), as a
    /// multi-threaded client must; CKR_CRYPTOKI_ALREADY_INITIALIZED is fine.
    func initializeForThreads() {
        var args = CK_C_INITIALIZE_ARGS()
        args.flags = CK_FLAGS(CKF_OS_LOCKING_OK)
        let rv = f.C_Initialize(&args)
        guard rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED else { fail("C_Initialize: \(rv)") }
    }

    /// The slot whose token is labelled `label` (after C_Initialize).
    func slot(label: String) -> CK_SLOT_ID? {
        var slots = [CK_SLOT_ID](repeating: 0, count: 64)
        var n = CK_ULONG(slots.count)
        guard f.C_GetSlotList(1, &slots, &n) == CKR_OK else { return nil }
        return slots.prefix(Int(n)).first { id in
            var info = CK_TOKEN_INFO()
            guard f.C_GetTokenInfo(id, &info) == CKR_OK else { return false }
            let text = withUnsafeBytes(of: info.label) { String(decoding: $0, as: UTF8.self) }
            return text.hasPrefix(label + " ") || text == label
        }
    }

    /// A session on the token, logged in as the user.
    func userSession(slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
        var session: CK_SESSION_HANDLE = 0
        guard f.C_OpenSession(slot, CK_FLAGS(CKF_SERIAL_SESSION | CKF_RW_SESSION), nil, nil, &session) == CKR_OK else {
            fail("C_OpenSession")
        }
        var pin = benchUserPIN
        let rv = f.C_Login(session, CK_USER_TYPE(CKU_USER), &pin, CK_ULONG(pin.count))
        guard rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN else { fail("C_Login \(rv)") }
        return session
    }

    /// The handles matching a class (and an id).
    func find(_ session: CK_SESSION_HANDLE, objectClass: CK_OBJECT_CLASS, id: [UInt8]? = nil, max: Int = 1)
        -> [CK_OBJECT_HANDLE]
    {
        var keyClass = objectClass
        var idBytes = id ?? []
        var handles = [CK_OBJECT_HANDLE](repeating: 0, count: max)
        var found: CK_ULONG = 0
        withUnsafeMutablePointer(to: &keyClass) { keyClass in
            idBytes.withUnsafeMutableBytes { idPointer in
                var template = [
                    CK_ATTRIBUTE(
                        type: CK_ATTRIBUTE_TYPE(CKA_CLASS), pValue: keyClass,
                        ulValueLen: CK_ULONG(MemoryLayout<CK_OBJECT_CLASS>.size)),
                    CK_ATTRIBUTE(
                        type: CK_ATTRIBUTE_TYPE(CKA_ID), pValue: idPointer.baseAddress,
                        ulValueLen: CK_ULONG(idPointer.count)),
                ]
                _ = f.C_FindObjectsInit(session, &template, id == nil ? 1 : 2)
            }
        }
        _ = f.C_FindObjects(session, &handles, CK_ULONG(max), &found)
        _ = f.C_FindObjectsFinal(session)
        return Array(handles.prefix(Int(found)))
    }
}

/// Milliseconds since some fixed moment.
func milliseconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e6 }

/// `ROW name median min max`.
func printRow(_ name: String, _ samples: [Double]) {
    let sorted = samples.sorted()
    let median =
        sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    print("ROW\t\(name)\t\(median)\t\(sorted.first ?? 0)\t\(sorted.last ?? 0)")
}

enum Scale {
    /// C_Initialize → C_GetSlotList → C_GetTokenInfo (the token found by label) → C_Finalize.
    static func open(modulePath: String, label: String, rounds: Int) {
        let module = RawModule(path: modulePath)
        var samples: [Double] = []
        for _ in 0..<rounds {
            let start = milliseconds()
            guard module.f.C_Initialize(nil) == CKR_OK else { fail("C_Initialize") }
            guard module.slot(label: label) != nil else { fail("no token \(label)") }
            samples.append(milliseconds() - start)
            _ = module.f.C_Finalize(nil)
        }
        printRow("open", samples)
    }

    /// C_OpenSession + C_Login(USER) + C_Logout + C_CloseSession, after one C_Initialize.
    static func login(modulePath: String, label: String, rounds: Int) {
        let module = RawModule(path: modulePath)
        guard module.f.C_Initialize(nil) == CKR_OK, let slot = module.slot(label: label) else {
            fail("no token \(label)")
        }
        var samples: [Double] = []
        for _ in 0..<rounds {
            let start = milliseconds()
            let session = module.userSession(slot: slot)
            samples.append(milliseconds() - start)
            _ = module.f.C_Logout(session)
            _ = module.f.C_CloseSession(session)
        }
        printRow("login", samples)
        _ = module.f.C_Finalize(nil)
    }

    /// One filtered search (class = certificate, id = one of the populated ids) per sample.
    static func find(modulePath: String, label: String, objects: Int, rounds: Int) {
        let module = RawModule(path: modulePath)
        guard module.f.C_Initialize(nil) == CKR_OK, let slot = module.slot(label: label) else {
            fail("no token \(label)")
        }
        let session = module.userSession(slot: slot)
        var samples: [Double] = []
        for n in 0..<rounds {
            // populate gives triple n (one in three objects a certificate) the id UInt32(n) big-endian
            let triple = UInt32(1 + (n * 7919) % max(1, objects / 3))
            let id = withUnsafeBytes(of: triple.bigEndian) { Array($0) }
            let start = milliseconds()
            let found = module.find(session, objectClass: CK_OBJECT_CLASS(CKO_CERTIFICATE), id: id, max: 2)
            samples.append(milliseconds() - start)
            guard found.count == 1 else { fail("filtered find for id \(triple): \(found.count) objects") }
        }
        printRow("find", samples)
        _ = module.f.C_Finalize(nil)
    }

    /// P-256 signatures per second: one thread on one session, then two threads on two.
    static func threads(modulePath: String, label: String, count: Int, rounds: Int) {
        let module = RawModule(path: modulePath)
        module.initializeForThreads()
        guard let slot = module.slot(label: label) else { fail("no token \(label)") }
        let sessions = (0..<2).map { _ in module.userSession(slot: slot) }
        let keys = sessions.map { module.find($0, objectClass: CK_OBJECT_CLASS(CKO_PRIVATE_KEY), id: [2]) }
        guard keys.allSatisfy({ $0.count == 1 }) else { fail("no P-256 key (id 2) on \(label)") }
        let digest = Array(SHA256.hash(data: Array("two sessions".utf8)))
        let f = module.f
        @Sendable func sign(_ session: CK_SESSION_HANDLE, _ key: CK_OBJECT_HANDLE, _ n: Int) {
            var mech = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_ECDSA), pParameter: nil, ulParameterLen: 0)
            var data = digest
            var signature = [UInt8](repeating: 0, count: 132)
            for _ in 0..<n {
                var length = CK_ULONG(signature.count)
                let initRV = f.C_SignInit(session, &mech, key)
                guard initRV == CKR_OK else { fail("C_SignInit: \(initRV)") }
                let rv = f.C_Sign(session, &data, CK_ULONG(data.count), &signature, &length)
                guard rv == CKR_OK else { fail("C_Sign: \(rv)") }
            }
        }
        var one: [Double] = []
        var two: [Double] = []
        for _ in 0..<rounds {
            var start = milliseconds()
            sign(sessions[0], keys[0][0], count)
            one.append(Double(count) / ((milliseconds() - start) / 1000))
            start = milliseconds()
            let group = DispatchGroup()
            for i in 0..<2 {
                let session = sessions[i]
                let key = keys[i][0]
                DispatchQueue.global().async(group: group) { sign(session, key, count) }
            }
            group.wait()
            two.append(Double(2 * count) / ((milliseconds() - start) / 1000))
        }
        printRow("one thread", one)
        printRow("two threads", two)
    }

    /// AES-256-GCM encryption of 16 KiB buffers through the module, in MB/s; `n/a` when the
    /// module offers no CKM_AES_GCM.
    static func aesGCM(modulePath: String, label: String, seconds: Double, rounds: Int) {
        let module = RawModule(path: modulePath)
        _ = module.f.C_Initialize(nil)
        guard let slot = module.slot(label: label) else { fail("no token \(label)") }
        var mechanisms = [CK_MECHANISM_TYPE](repeating: 0, count: 512)
        var n = CK_ULONG(mechanisms.count)
        _ = module.f.C_GetMechanismList(slot, &mechanisms, &n)
        guard mechanisms.prefix(Int(n)).contains(CK_MECHANISM_TYPE(CKM_AES_GCM)) else {
            print("NA\tAES-GCM")
            return
        }
        let session = module.userSession(slot: slot)
        var key: CK_OBJECT_HANDLE = 0
        var generate = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_AES_KEY_GEN), pParameter: nil, ulParameterLen: 0)
        var length = CK_ULONG(32)
        var yes = CK_BBOOL(1)
        var no = CK_BBOOL(0)
        let rv = withUnsafeMutablePointer(to: &length) { length in
            withUnsafeMutablePointer(to: &yes) { yes in
                withUnsafeMutablePointer(to: &no) { no in
                    var template = [
                        CK_ATTRIBUTE(
                            type: CK_ATTRIBUTE_TYPE(CKA_VALUE_LEN), pValue: length,
                            ulValueLen: CK_ULONG(MemoryLayout<CK_ULONG>.size)),
                        CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(CKA_ENCRYPT), pValue: yes, ulValueLen: 1),
                        CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(CKA_TOKEN), pValue: no, ulValueLen: 1),
                    ]
                    return module.f.C_GenerateKey(session, &generate, &template, CK_ULONG(template.count), &key)
                }
            }
        }
        guard rv == CKR_OK else { fail("C_GenerateKey(AES-256): \(rv)") }
        var plain = [UInt8](repeating: 0x5A, count: 16384)
        var out = [UInt8](repeating: 0, count: 16384 + 64)
        var iv = [UInt8](repeating: 0, count: 12)
        var samples: [Double] = []
        for _ in 0..<rounds {
            var bytes = 0
            let start = milliseconds()
            var counter: UInt64 = 0
            while milliseconds() - start < seconds * 1000 {
                counter += 1
                withUnsafeBytes(of: counter) { for (i, b) in $0.enumerated() { iv[i] = b } }
                let rv = iv.withUnsafeMutableBufferPointer { ivp in
                    var params = CK_GCM_PARAMS(
                        pIv: ivp.baseAddress, ulIvLen: 12, ulIvBits: 96, pAAD: nil, ulAADLen: 0, ulTagBits: 128)
                    return withUnsafeMutablePointer(to: &params) { p in
                        var mech = CK_MECHANISM(
                            mechanism: CK_MECHANISM_TYPE(CKM_AES_GCM), pParameter: p,
                            ulParameterLen: CK_ULONG(MemoryLayout<CK_GCM_PARAMS>.size))
                        guard module.f.C_EncryptInit(session, &mech, key) == CKR_OK else {
                            return CK_RV(CKR_GENERAL_ERROR)
                        }
                        var outLength = CK_ULONG(out.count)
                        return module.f.C_Encrypt(session, &plain, CK_ULONG(plain.count), &out, &outLength)
                    }
                }
                guard rv == CKR_OK else { fail("C_Encrypt(AES-GCM): \(rv)") }
                bytes += plain.count
            }
            samples.append(Double(bytes) / 1e6 / ((milliseconds() - start) / 1000))
        }
        printRow("AES-256-GCM 16 KiB MB/s", samples)
    }
}
