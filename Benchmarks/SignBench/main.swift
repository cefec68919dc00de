import CPKCS11
// Signing throughput: CertStore's Signer against a direct C PKCS#11 loop (dlopen, the raw
// function list, C_SignInit/C_Sign) on the same key. Both sides do the same work per input:
// SHA-256 in software where the token lacks the combined mechanism (ECDSA), then one
// C_SignInit and one C_Sign — plus one C_Login(CKU_CONTEXT_SPECIFIC) for High keys. Run in
// release (scripts/bench does all of this):
//
//   certbridge-bench-sign [MODULE]                      private SoftHSM2 dir, token, keys, then sign
//   certbridge-bench-sign setup MODULE LABEL            init a token (PINs: the bench's) and its keys
//   certbridge-bench-sign populate MODULE LABEL N CERT  fill it to N objects (CERT: a DER file)
//   certbridge-bench-sign sign MODULE LABEL             sign on an existing token
//   certbridge-bench-sign compare MODULE OTHER LABEL    CertStore through OTHER (e.g. p11-kit-client.so
//                                                       to the same token) vs CertStore through MODULE
//   certbridge-bench-sign open|login MODULE LABEL       C_Initialize → C_GetTokenInfo / C_OpenSession + C_Login, ms
//   certbridge-bench-sign find MODULE LABEL N           one filtered C_FindObjects (class + id) on a populated token, ms
//   certbridge-bench-sign threads MODULE LABEL          P-256 sign/s, one thread vs two threads on two sessions
//   certbridge-bench-sign aes-gcm MODULE LABEL          AES-256-GCM of 16 KiB through the module, MB/s
//
// The token's directory comes from the caller's SOFTHSM2_CONF (or the software token's
// CERTBRIDGE_SOFTTOKEN_DIR), except in the first form. BENCH_COUNT sets the RSA inputs per run
// (10,000; EC runs take 5× as many, being that much faster), BENCH_HIGH_COUNT those of the High
// runs (200), BENCH_ROUNDS the interleaved runs whose median counts (3). Each result is also
// printed as a tab-separated `ROW name ours peer ours-spread peer-spread` line for scripts/bench.
import CertStore
import Crypto
import Foundation

var arguments = Array(CommandLine.arguments.dropFirst())
let command =
    ["setup", "populate", "sign", "compare", "open", "login", "find", "threads", "aes-gcm", "rate"].contains(
        arguments.first ?? "") ? arguments.removeFirst() : "all"
let modulePath = arguments.first ?? "/usr/lib/softhsm/libsofthsm2.so"
if command == "compare" && arguments.count < 3 { fail("usage: compare MODULE OTHER LABEL") }
let otherModulePath = command == "compare" ? arguments.remove(at: 1) : nil
let label = arguments.count > 1 ? arguments[1] : "bench"
let count = Int(ProcessInfo.processInfo.environment["BENCH_COUNT"] ?? "") ?? 10_000
let highCount = Int(ProcessInfo.processInfo.environment["BENCH_HIGH_COUNT"] ?? "") ?? 200
let rounds = Int(ProcessInfo.processInfo.environment["BENCH_ROUNDS"] ?? "") ?? 3

switch command {
case "setup":
    do { try setUpToken(modulePath: modulePath, label: label) } catch { fail("setup: \(error)") }
    exit(0)
case "populate":
    guard arguments.count == 4, let total = Int(arguments[2]),
        let der = FileManager.default.contents(atPath: arguments[3])
    else { fail("usage: populate MODULE LABEL N CERT.der") }
    do { try populate(modulePath: modulePath, label: label, count: total, certificateDER: [UInt8](der)) } catch {
        fail("populate: \(error)")
    }
    exit(0)
case "open":
    Scale.open(modulePath: modulePath, label: label, rounds: rounds)
    exit(0)
case "login":
    Scale.login(modulePath: modulePath, label: label, rounds: rounds)
    exit(0)
case "find":
    Scale.find(
        modulePath: modulePath, label: label, objects: Int(arguments.count > 2 ? arguments[2] : "") ?? 1000,
        rounds: rounds)
    exit(0)
case "threads":
    Scale.threads(modulePath: modulePath, label: label, count: 5 * count, rounds: rounds)
    exit(0)
case "aes-gcm":
    Scale.aesGCM(modulePath: modulePath, label: label, seconds: 1, rounds: rounds)
    exit(0)
case "all":
    // A private SoftHSM2 token directory, set before the module is first loaded.
    let base = NSTemporaryDirectory() + "/certbridge-bench-\(getpid())"
    try? FileManager.default.createDirectory(atPath: base + "/tokens", withIntermediateDirectories: true)
    try? "directories.tokendir = \(base)/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
        .write(toFile: base + "/softhsm2.conf", atomically: true, encoding: .utf8)
    setenv("SOFTHSM2_CONF", base + "/softhsm2.conf", 1)
    atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "/certbridge-bench-\(getpid())") }
    do { try setUpToken(modulePath: modulePath, label: label) } catch { fail("setup: \(error)") }
default:
    break
}

// MARK: Ours: CertStore's signing API.

@MainActor
func ours(_ signer: Signer, _ inputs: [[UInt8]], algorithm: SignatureAlgorithm, format: SignatureFormat) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    for input in inputs {
        do { _ = try signer.sign(input, algorithm: algorithm, format: format) } catch {
            fail("CertStore sign: \(error)")
        }
    }
    return Double(inputs.count) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

let store: Store
do { store = try Store(modulePaths: [modulePath]) } catch { fail("store: \(error)") }

/// A signer for one bench key; a High key's use is approved with the user PIN (SoftHSM2's
/// context login takes the user PIN; so does the software token's unless the key has its own).
@MainActor
func signer(_ name: String, in store: Store = store) -> Signer {
    do {
        return try Signer(
            store: store, key: PKCS11URI("pkcs11:token=\(label);object=\(name)"),
            pin: { _ in PIN(bytes: benchUserPIN) }, keyPassword: { _ in PIN(bytes: benchUserPIN) })
    } catch { fail("signer: \(error)") }
}

/// The median of some runs.
func median(_ runs: [Double]) -> Double {
    let sorted = runs.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// The lowest and highest of some runs, as `min–max`.
func spread(_ runs: [Double], digits: Int = 0) -> String {
    String(format: "%.\(digits)f–%.\(digits)f", runs.min() ?? 0, runs.max() ?? 0)
}

// `rate MODULE LABEL KEY`: CertStore signing with one bench key for BENCH_SECONDS (1) seconds of
// wall time, as `openssl speed -seconds 1` signs, for scripts/bench to alternate with it.
if command == "rate" {
    guard arguments.count > 2, let key = benchKeys.first(where: { $0.label == arguments[2] }) else {
        fail("usage: rate MODULE LABEL KEY")
    }
    let algorithm: SignatureAlgorithm = key.rsa ? .rsaPKCS1(.sha256) : .ecdsa(key.bits == 384 ? .sha384 : .sha256)
    let seconds = Double(ProcessInfo.processInfo.environment["BENCH_SECONDS"] ?? "") ?? 1
    let runInputs = (0..<256).map { Array("input #\($0) for the rate".utf8) }
    let keySigner = signer(key.label)
    _ = ours(keySigner, Array(runInputs.prefix(50)), algorithm: algorithm, format: .raw)
    let start = DispatchTime.now().uptimeNanoseconds
    let end = start + UInt64(seconds * 1e9)
    var signed = 0
    var now = start
    while now < end {
        for input in runInputs.prefix(key.rsa ? 8 : 64) {
            do { _ = try keySigner.sign(input, algorithm: algorithm, format: .raw) } catch {
                fail("CertStore sign: \(error)")
            }
        }
        signed += key.rsa ? 8 : 64
        now = DispatchTime.now().uptimeNanoseconds
    }
    print("RATE\t\(Double(signed) / (Double(now - start) / 1e9))")
    exit(0)
}

let inputs = (0..<max(5 * count, highCount)).map { Array("small input #\($0) for the signing benchmark".utf8) }
if let otherModulePath {
    // The same keys through two modules, CertStore on both, interleaved in one process.
    let other: Store
    do { other = try Store(modulePaths: [otherModulePath]) } catch { fail("store on \(otherModulePath): \(error)") }
    print(
        "certbridge-bench-sign: CertStore through \(otherModulePath) vs through \(modulePath), median of \(rounds) interleaved runs"
    )
    for (name, keyLabel, algorithm, format, n) in [
        ("RSA-2048", "rsa", SignatureAlgorithm.rsaPKCS1(.sha256), SignatureFormat.der, count),
        ("P-256", "p256", .ecdsa(.sha256), .raw, 5 * count),
    ] {
        let here = signer(keyLabel)
        let there = signer(keyLabel, in: other)
        let runInputs = Array(inputs.prefix(n))
        _ = ours(here, Array(inputs.prefix(200)), algorithm: algorithm, format: format)
        _ = ours(there, Array(inputs.prefix(200)), algorithm: algorithm, format: format)
        var hereRuns: [Double] = []
        var thereRuns: [Double] = []
        for _ in 0..<rounds {
            hereRuns.append(ours(here, runInputs, algorithm: algorithm, format: format))
            thereRuns.append(ours(there, runInputs, algorithm: algorithm, format: format))
        }
        let (bestHere, bestThere) = (median(hereRuns), median(thereRuns))
        print(
            String(
                format: "%-20@ %@: %8.0f/s vs %8.0f/s   ratio %.3f", name as NSString, algorithm.name as NSString,
                bestThere, bestHere, bestThere / bestHere))
        print("ROW\t\(name) sign/s\t\(bestThere)\t\(bestHere)\t\(spread(thereRuns))\t\(spread(hereRuns))")
    }
    exit(0)
}

print(
    "certbridge-bench-sign: \(count) signatures per RSA run, \(5 * count) per EC run (\(highCount) for High keys), median of \(rounds) interleaved runs, module \(modulePath)"
)
let cases: [(String, String, UInt8, CK_MECHANISM_TYPE, Bool, SignatureAlgorithm, SignatureFormat, Bool)] = [
    ("RSA-2048", "rsa", 1, CK_MECHANISM_TYPE(CKM_SHA256_RSA_PKCS), false, .rsaPKCS1(.sha256), .der, false),
    ("P-256", "p256", 2, CK_MECHANISM_TYPE(CKM_ECDSA), true, .ecdsa(.sha256), .raw, false),
    ("P-256 (DER output)", "p256", 2, CK_MECHANISM_TYPE(CKM_ECDSA), true, .ecdsa(.sha256), .der, false),
    ("RSA-2048 High", "rsa-high", 3, CK_MECHANISM_TYPE(CKM_SHA256_RSA_PKCS), false, .rsaPKCS1(.sha256), .der, true),
    ("P-256 High", "p256-high", 4, CK_MECHANISM_TYPE(CKM_ECDSA), true, .ecdsa(.sha256), .raw, true),
]
for (name, keyLabel, id, mechanism, prehash, algorithm, format, high) in cases {
    let direct = Direct(modulePath: modulePath, tokenLabel: label, keyID: id)
    let ourSigner = signer(keyLabel)
    let runInputs = Array(inputs.prefix(high ? highCount : keyLabel.hasPrefix("rsa") ? count : 5 * count))
    // Warm up both paths, then interleave so drift in the machine hits both alike.
    let warmUp = Array(inputs.prefix(high ? 20 : 200))
    _ = direct.run(warmUp, mechanism: mechanism, prehash: prehash, contextLogin: high)
    _ = ours(ourSigner, warmUp, algorithm: algorithm, format: format)
    var directRuns: [Double] = []
    var ourRuns: [Double] = []
    for _ in 0..<rounds {
        directRuns.append(direct.run(runInputs, mechanism: mechanism, prehash: prehash, contextLogin: high))
        ourRuns.append(ours(ourSigner, runInputs, algorithm: algorithm, format: format))
    }
    let (bestDirect, bestOurs) = (median(directRuns), median(ourRuns))
    if high {
        // For a High key the figure that matters to a person is the latency of one approved use.
        print(
            String(
                format:
                    "%-20@ %@: direct C loop %8.2f ms   CertStore %8.2f ms per signature (context login included)   ratio %.3f",
                name as NSString, algorithm.name as NSString, 1000 / bestDirect, 1000 / bestOurs, bestDirect / bestOurs)
        )
        print(
            "ROW\t\(name) latency ms\t\(1000 / bestOurs)\t\(1000 / bestDirect)\t\(spread(ourRuns.map { 1000 / $0 }, digits: 2))\t\(spread(directRuns.map { 1000 / $0 }, digits: 2))"
        )
    } else {
        print(
            String(
                format: "%-20@ %@: direct C loop %8.0f/s   CertStore %8.0f/s   ratio %.3f",
                name as NSString, algorithm.name as NSString, bestDirect, bestOurs, bestOurs / bestDirect))
        print("ROW\t\(name) sign/s\t\(bestOurs)\t\(bestDirect)\t\(spread(ourRuns))\t\(spread(directRuns))")
    }
}
