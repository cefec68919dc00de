import Foundation
import TestSupport
import Testing

/// A PFX that asks for 2^31-1 iterations (an hour of CPU) in its MAC, its key's PBKDF2 or a
/// legacy PKCS#12 PBE is refused before any key derivation, naming the count; so is a file
/// over 16 MiB or nested too deep.
@Suite("Hostile PFX files")
struct HostilePFXTests {
    static let marker: Int64 = 2049
    static let hostile: Int64 = 2_147_483_647

    /// Where the count sits in what `openssl pkcs12 -export -iter 2049` writes, in document
    /// order: certificates' part, then the key bag, then the MAC.
    enum Place: String, CaseIterable, CustomStringConvertible {
        case mac, keyPBKDF2, legacyKeyPBE, legacyCertificatePBE
        var description: String { rawValue }
        var legacy: Bool { self == .legacyKeyPBE || self == .legacyCertificatePBE }
        var occurrence: Int {
            switch self {
            case .legacyCertificatePBE: 0
            case .keyPBKDF2, .legacyKeyPBE: 1
            case .mac: 2
            }
        }
        var named: String {
            switch self {
            case .mac: "MAC"
            case .keyPBKDF2: "key's encryption (PBKDF2)"
            case .legacyKeyPBE: "key's encryption (PBE)"
            case .legacyCertificatePBE: "encryption of part 1 (PBE)"
            }
        }
    }

    func hostileFile(_ place: Place, in dir: TemporaryDirectory) throws -> PFXFixture {
        let pfx = try PFXFixture.make(
            ec: "prime256v1", chain: false, extra: ["-iter", "\(Self.marker)"] + (place.legacy ? ["-legacy"] : []),
            in: dir)
        let der = [UInt8](try Data(contentsOf: URL(fileURLWithPath: pfx.path)))
        let patched = try DERPatch.replaceInteger(
            Self.marker, occurrence: place.occurrence, with: Self.hostile, in: der)
        try Data(patched).write(to: URL(fileURLWithPath: pfx.path))
        return pfx
    }

    @Test(
        "2^31-1 iterations: pfx inspect and import answer within 2 s, naming the count and where it is",
        arguments: Place.allCases)
    func hostileIterations(place: Place) throws {
        let dir = try TemporaryDirectory()
        let pfx = try hostileFile(place, in: dir)
        for command in [["pfx", "inspect", pfx.path], ["import", pfx.path, "--module", SoftHSM.modulePath]] {
            let start = Date()
            let result = try CLI.run(command + ["--password-source", "file:\(pfx.passwordFile)"])
            let elapsed = Date().timeIntervalSince(start)
            #expect(result.status == 1, "\(command[0]) \(place): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("\(Self.hostile) iterations"), "\(place): \(result.stderr)")
            #expect(result.stderr.contains(place.named), "\(place): \(result.stderr)")
            #expect(elapsed < 2, "\(command[0]) \(place) took \(elapsed) s")
        }
    }

    @Test("--max-iterations sets the cap: 2049 passes by default and is refused under --max-iterations 2000")
    func maxIterationsOption() throws {
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, extra: ["-iter", "\(Self.marker)"], in: dir)
        let passes = try CLI.run(["pfx", "inspect", pfx.path, "--password-source", "file:\(pfx.passwordFile)"])
        #expect(passes.status == 0, "\(passes.stderr)")
        let refused = try CLI.run([
            "pfx", "inspect", pfx.path, "--max-iterations", "2000", "--password-source", "file:\(pfx.passwordFile)",
        ])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("2049 iterations, more than the limit of 2000"), "\(refused.stderr)")
    }

    @Test("a file over 16 MiB is refused by its size; BER nested 40 deep is refused")
    func sizeAndNesting() throws {
        let dir = try TemporaryDirectory()
        let big = dir.file("big.pfx")
        _ = FileManager.default.createFile(atPath: big, contents: Data([0x30, 0x84, 0x01, 0x10, 0x00, 0x00]))
        #expect(truncate(big, (16 << 20) + 4096) == 0)
        let password = try dir.write("pass", "x")
        let start = Date()
        let tooBig = try CLI.run(["pfx", "inspect", big, "--password-source", "file:\(password)"])
        #expect(tooBig.status == 1)
        #expect(tooBig.stderr.contains("16 MiB"), "\(tooBig.stderr)")
        #expect(Date().timeIntervalSince(start) < 2)

        // Indefinite lengths (BER, which OpenSSL accepts) nested 40 deep.
        let nested: [UInt8] =
            Array(repeating: [0x30, 0x80], count: 40).flatMap { $0 } + [0x02, 0x01, 0x03]
            + Array(repeating: [0x00, 0x00], count: 40).flatMap { $0 }
        let deep = dir.file("deep.pfx")
        try Data(nested).write(to: URL(fileURLWithPath: deep))
        let refused = try CLI.run(["pfx", "inspect", deep, "--password-source", "file:\(password)"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("nested more than 32 levels"), "\(refused.stderr)")
    }
}
