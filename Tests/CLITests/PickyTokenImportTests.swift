import Foundation
import PKCS11
import TestSupport
import Testing

/// Tokens that refuse or ignore key-policy attributes (as some PIV modules do), played by a
/// shim in front of SoftHSM2 (Tests/PickyModule): the import places the key at least as strictly
/// as asked or refuses, naming the limit, and a refusal after the key was written leaves the
/// token exactly as before.
@Suite("import onto a token that refuses or ignores attributes")
struct PickyTokenImportTests {
    /// The shim, built with the system C compiler into `dir`.
    static func pickyModule(in dir: TemporaryDirectory) throws -> String {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../PickyModule/picky-pkcs11.c").standardized.path
        let path = dir.file("libpicky-pkcs11.so")
        let built = try run("cc", ["-shared", "-fPIC", "-O1", "-I/usr/include/p11-kit-1", "-o", path, source, "-ldl"])
        guard built.status == 0 else { throw TestSupportError("cannot build the picky module: \(built.stderr)") }
        return path
    }

    /// What each test starts from: the shim built into a fresh directory, an openssl-made P-256
    /// PFX there, and a fresh SoftHSM2 token that the shim stands in front of.
    struct Rig {
        let dir: TemporaryDirectory
        let picky: String
        let pfx: PFXFixture
        let test: TestToken

        init(chain: Bool) throws {
            dir = try TemporaryDirectory()
            picky = try PickyTokenImportTests.pickyModule(in: dir)
            pfx = try PFXFixture.make(ec: "prime256v1", chain: chain, in: dir)
            test = try SoftHSM.freshToken()
        }

        /// `certbridge import` of the PFX through the shim, which refuses the attributes in
        /// `refuse` and drops those in `drop` (hex CKA values).
        func importPFX(refuse: String = "", drop: String = "", _ extra: [String]) throws -> RunResult {
            try CLI.run(
                [
                    "import", pfx.path, "--token", "pkcs11:token=\(test.label)", "--password-source",
                    "file:\(pfx.passwordFile)",
                    "--pin-source", "env:PIN", "--module", picky,
                ] + extra,
                environment: [
                    "PIN": test.userPIN, "CERTBRIDGE_PICKY_TARGET": SoftHSM.modulePath,
                    "CERTBRIDGE_PICKY_REFUSE": refuse, "CERTBRIDGE_PICKY_DROP": drop,
                ])
        }
    }

    @Test(
        "a token that ignores CKA_ALWAYS_AUTHENTICATE cannot take a High key: refused after the write, naming the limit, token as before"
    )
    func highIgnored() throws {
        let rig = try Rig(chain: true)
        let before = try rig.test.snapshot()
        let result = try rig.importPFX(drop: "0x202", ["--security-level", "high"])
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("cannot hold a key at the High level"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing was left on the token"))
        #expect(try rig.test.snapshot() == before)

        // The same token takes a standard key: the shim is not simply broken.
        let standard = try rig.importPFX(drop: "0x202", [])
        #expect(standard.status == 0, "\(standard.stderr)")
    }

    @Test(
        "a token that refuses CKA_EXTRACTABLE in the template: a non-exportable key is placed by its default, read back, and a note says so"
    )
    func extractableRefusedNonExportable() throws {
        let rig = try Rig(chain: false)
        let result = try rig.importPFX(refuse: "0x162", ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let imported = try result.json(ImportJSON.self)
        let key = try #require(imported.objects.first { $0.class == "private-key" })
        #expect(key.verdict == "non-exportable")
        #expect(key.flags?.extractable == false && key.flags?.sensitive == true)
        #expect(
            imported.notes.contains {
                $0.contains("refused CKA_EXTRACTABLE") && $0.contains("CKR_ATTRIBUTE_TYPE_INVALID")
            })
    }

    @Test(
        "a token that refuses CKA_EXTRACTABLE cannot take an exportable key: refused with the CKR name, nothing written"
    )
    func extractableRefusedExportable() throws {
        let rig = try Rig(chain: false)
        let before = try rig.test.snapshot()
        let result = try rig.importPFX(refuse: "0x162", ["--exportable"])
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("C_CreateObject: CKR_ATTRIBUTE_TYPE_INVALID"), "\(result.stderr)")
        #expect(try rig.test.snapshot() == before)
    }
}
