// Signing throughput: CertStore's Signer against a direct C PKCS#11 loop (dlopen, the raw
// function list, C_SignInit/C_Sign) on the same SoftHSM2 key, 10,000 small inputs each.
// Both sides do the same work per input: SHA-256 in software where the token lacks the
// combined mechanism (ECDSA), then one C_SignInit and one C_Sign. Run in release:
//   swift build -c release --product certbridge-bench-sign && .build/release/certbridge-bench-sign
import CertStore
import CPKCS11
import Crypto
import Foundation

let modulePath = CommandLine.arguments.dropFirst().first ?? "/usr/lib/softhsm/libsofthsm2.so"
let count = Int(ProcessInfo.processInfo.environment["BENCH_COUNT"] ?? "") ?? 10_000
let rounds = 3
let userPIN = Array("1234".utf8)

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("certbridge-bench-sign: \(message)\n".utf8))
    exit(1)
}

// A private SoftHSM2 token directory, set before the module is first loaded.
let base = NSTemporaryDirectory() + "/certbridge-bench-\(getpid())"
try? FileManager.default.createDirectory(atPath: base + "/tokens", withIntermediateDirectories: true)
try? "directories.tokendir = \(base)/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
    .write(toFile: base + "/softhsm2.conf", atomically: true, encoding: .utf8)
setenv("SOFTHSM2_CONF", base + "/softhsm2.conf", 1)
defer { try? FileManager.default.removeItem(atPath: base) }

// Set up the token and keys through the safe layer (not timed).
let label = "bench"
let module: Module
let token: Token
do {
    module = try Module.load(path: modulePath)
    guard let free = try module.slots().first(where: { (try? $0.token().info.flags.contains(.tokenInitialized)) == false }) else { fail("no free slot") }
    try free.initializeToken(label: label, soPIN: PIN(bytes: Array("12345678".utf8)))
    guard let found = try module.slots().compactMap({ try? $0.token() }).first(where: { $0.info.label == label }) else { fail("token vanished") }
    token = found
    let session = try token.openSession(readWrite: true)
    try session.login(.securityOfficer, pin: PIN(bytes: Array("12345678".utf8)))
    try session.initializeUserPIN(PIN(bytes: userPIN))
    try session.logout()
    try session.login(.user, pin: PIN(bytes: userPIN))
    let common = { (name: String, id: UInt8) in [Attribute(.token, true), Attribute(.label, string: name), Attribute(.id, bytes: [id])] }
    _ = try session.generateKeyPair(Mechanism(.rsaPKCSKeyPairGen),
        publicTemplate: common("rsa", 1) + [Attribute(.modulusBits, ulong: 2048), Attribute(.publicExponent, bytes: [1, 0, 1]), Attribute(.verify, true)],
        privateTemplate: common("rsa", 1) + [Attribute(.private, true), Attribute(.sign, true), Attribute(.sensitive, true)])
    _ = try session.generateKeyPair(Mechanism(.ecKeyPairGen),
        publicTemplate: common("p256", 2) + [Attribute(.ecParams, bytes: [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]), Attribute(.verify, true)],
        privateTemplate: common("p256", 2) + [Attribute(.private, true), Attribute(.sign, true), Attribute(.sensitive, true)])
    try session.logout()
} catch {
    fail("setup: \(error)")
}

// MARK: The direct loop: the raw function list, as a C program would call it.

@MainActor
final class Direct {
    let f: CK_FUNCTION_LIST
    var session: CK_SESSION_HANDLE = 0
    var key: CK_OBJECT_HANDLE = 0

    init(keyID: UInt8) {
        guard let lib = dlopen(modulePath, RTLD_NOW), let sym = dlsym(lib, "C_GetFunctionList") else { fail("dlopen") }
        typealias Get = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CK_FUNCTION_LIST>?>?) -> CK_RV
        var list: UnsafeMutablePointer<CK_FUNCTION_LIST>?
        guard unsafeBitCast(sym, to: Get.self)(&list) == CKR_OK, let list else { fail("C_GetFunctionList") }
        f = list.pointee
        _ = f.C_Initialize(nil)  // already initialized by the safe layer: CKR_CRYPTOKI_ALREADY_INITIALIZED
        var slots = [CK_SLOT_ID](repeating: 0, count: 16)
        var n = CK_ULONG(slots.count)
        _ = f.C_GetSlotList(1, &slots, &n)
        let slot = slots[0..<Int(n)].first { id in
            var info = CK_TOKEN_INFO()
            _ = f.C_GetTokenInfo(id, &info)
            return withUnsafeBytes(of: info.label) { String(decoding: $0, as: UTF8.self) }.hasPrefix(label + " ")
        }
        guard let slot else { fail("no bench token") }
        guard f.C_OpenSession(slot, CK_FLAGS(CKF_SERIAL_SESSION), nil, nil, &session) == CKR_OK else { fail("C_OpenSession") }
        var pin = userPIN
        let rv = f.C_Login(session, CK_USER_TYPE(CKU_USER), &pin, CK_ULONG(pin.count))
        guard rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN else { fail("C_Login \(rv)") }
        var keyClass = CK_OBJECT_CLASS(CKO_PRIVATE_KEY)
        var id = keyID
        withUnsafeMutablePointer(to: &keyClass) { keyClass in
            withUnsafeMutablePointer(to: &id) { id in
                var template = [CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(CKA_CLASS), pValue: keyClass, ulValueLen: CK_ULONG(MemoryLayout<CK_OBJECT_CLASS>.size)),
                                CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(CKA_ID), pValue: id, ulValueLen: 1)]
                _ = f.C_FindObjectsInit(session, &template, 2)
            }
        }
        var found: CK_ULONG = 0
        _ = f.C_FindObjects(session, &key, 1, &found)
        _ = f.C_FindObjectsFinal(session)
        guard found == 1 else { fail("key not found") }
    }

    /// C_SignInit + C_Sign for each input; `prehash` hashes in software first (ECDSA).
    func run(_ inputs: [[UInt8]], mechanism: CK_MECHANISM_TYPE, prehash: Bool) -> Double {
        var mech = CK_MECHANISM(mechanism: mechanism, pParameter: nil, ulParameterLen: 0)
        var signature = [UInt8](repeating: 0, count: 512)
        let start = DispatchTime.now().uptimeNanoseconds
        for input in inputs {
            var data = prehash ? Array(SHA256.hash(data: input)) : input
            var length = CK_ULONG(signature.count)
            guard f.C_SignInit(session, &mech, key) == CKR_OK,
                  f.C_Sign(session, &data, CK_ULONG(data.count), &signature, &length) == CKR_OK else { fail("direct C_Sign") }
        }
        return Double(inputs.count) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}

// MARK: Ours: CertStore's signing API.

@MainActor
func ours(_ signer: Signer, _ inputs: [[UInt8]], algorithm: SignatureAlgorithm, format: SignatureFormat) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    for input in inputs {
        do { _ = try signer.sign(input, algorithm: algorithm, format: format) } catch { fail("CertStore sign: \(error)") }
    }
    return Double(inputs.count) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

let inputs = (0..<count).map { Array("small input #\($0) for the signing benchmark".utf8) }
let store: Store
do { store = try Store(modulePaths: [modulePath]) } catch { fail("store: \(error)") }

@MainActor
func signer(_ name: String) -> Signer {
    do {
        return try Signer(store: store, key: PKCS11URI("pkcs11:token=\(label);object=\(name)"),
                          pin: { _ in PIN(bytes: userPIN) }, keyPassword: { _ throws(StoreError) in throw StoreError(.usage, "standard keys ask nothing") })
    } catch { fail("signer: \(error)") }
}

print("certbridge-bench-sign: \(count) signatures per run, best of \(rounds) interleaved runs, module \(modulePath)")
let cases: [(String, String, UInt8, CK_MECHANISM_TYPE, Bool, SignatureAlgorithm, SignatureFormat)] = [
    ("RSA-2048", "rsa", 1, CK_MECHANISM_TYPE(CKM_SHA256_RSA_PKCS), false, .rsaPKCS1(.sha256), .der),
    ("P-256", "p256", 2, CK_MECHANISM_TYPE(CKM_ECDSA), true, .ecdsa(.sha256), .raw),
    ("P-256 (DER output)", "p256", 2, CK_MECHANISM_TYPE(CKM_ECDSA), true, .ecdsa(.sha256), .der),
]
for (name, keyLabel, id, mechanism, prehash, algorithm, format) in cases {
    let direct = Direct(keyID: id)
    let ourSigner = signer(keyLabel)
    // Warm up both paths, then interleave so drift in the machine hits both alike.
    _ = direct.run(Array(inputs.prefix(200)), mechanism: mechanism, prehash: prehash)
    _ = ours(ourSigner, Array(inputs.prefix(200)), algorithm: algorithm, format: format)
    var bestDirect = 0.0, bestOurs = 0.0
    for _ in 0..<rounds {
        bestDirect = max(bestDirect, direct.run(inputs, mechanism: mechanism, prehash: prehash))
        bestOurs = max(bestOurs, ours(ourSigner, inputs, algorithm: algorithm, format: format))
    }
    // On a shared machine the load drifts between two 10,000-signature runs. Short blocks side
    // by side (alternating which goes first) see the same load: the median of their ratios is
    // the steadier figure.
    let block = Array(inputs.prefix(max(count / 20, 50)))
    var ratios: [Double] = []
    for pair in 0..<20 {
        let d: Double, o: Double
        if pair % 2 == 0 {
            d = direct.run(block, mechanism: mechanism, prehash: prehash)
            o = ours(ourSigner, block, algorithm: algorithm, format: format)
        } else {
            o = ours(ourSigner, block, algorithm: algorithm, format: format)
            d = direct.run(block, mechanism: mechanism, prehash: prehash)
        }
        ratios.append(o / d)
    }
    ratios.sort()
    let median = (ratios[9] + ratios[10]) / 2
    print(String(format: "%-20@ %@: direct C loop %8.0f/s   CertStore %8.0f/s   ratio %.3f   paired-block median ratio %.3f",
                 name as NSString, algorithm.name as NSString, bestDirect, bestOurs, bestOurs / bestDirect, median))
}
