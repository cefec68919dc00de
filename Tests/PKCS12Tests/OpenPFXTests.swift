import PKCS12
import Testing

/// Reading PFX files the way users meet them, all made by the real `openssl pkcs12 -export`.
@Suite struct OpenPFXTests {
    let pki = TestPKI.shared

    /// The leaf, then intermediate, then root, whatever order the file had them in.
    private func expectFullChain(_ backup: Backup, kind: LeafKind) {
        #expect(backup.certificate.subject == TestPKI.leafSubject(kind))
        #expect(backup.chain.map(\.subject) == [TestPKI.intermediateSubject, TestPKI.rootSubject])
        #expect(backup.otherCertificates.isEmpty)
        #expect(backup.privateKey.matches(backup.certificate))
        #expect(!backup.certificate.isCA)
        #expect(backup.chain.allSatisfy { $0.isCA })
    }

    @Test(
        "every supported key type opens with its type, size and chain",
        arguments: [
            LeafKind.rsa1024, .rsa2048, .p256, .p384, .p521,
        ])
    func keyTypes(kind: LeafKind) throws {
        let backup = try PFX.open(try pki.exportPFX(kind), password: Secret(utf8: "secret"))
        #expect(backup.privateKey.type == kind.expectedType)
        #expect(backup.privateKey.bits == kind.expectedBits)
        expectFullChain(backup, kind: kind)
        #expect(backup.localKeyID != nil)
        // Modern OpenSSL 3 default: PBES2 for both, SHA-256 MAC, but only 2048 iterations.
        let inspection = backup.inspection
        #expect(inspection.keyEncryption?.algorithm == "PBES2/AES-256-CBC/PBKDF2-HMAC-SHA256")
        #expect(inspection.certificateEncryption?.algorithm == "PBES2/AES-256-CBC/PBKDF2-HMAC-SHA256")
        #expect(inspection.keyEncryption?.iterations == 2048)
        #expect(inspection.mac == Inspection.MAC(digest: "SHA256", iterations: 2048))
        #expect(inspection.warnings.contains(.lowIterations(where: "MAC", count: 2048)))
        #expect(!inspection.warnings.contains { if case .weakCipher = $0 { true } else { false } })
        #expect(!inspection.warnings.contains(.sha1MAC))
    }

    @Test("a 4096-bit RSA key opens")
    func rsa4096() throws {
        let pki = TestPKI.withRSA4096
        let backup = try PFX.open(try pki.exportPFX(.rsa4096), password: Secret(utf8: "secret"))
        #expect(backup.privateKey.type == .rsa)
        #expect(backup.privateKey.bits == 4096)
        expectFullChain(backup, kind: .rsa4096)
    }

    @Test("legacy: 3DES key bag, RC2-40 certificates, SHA-1 MAC (Windows XP era)")
    func legacy() throws {
        let backup = try PFX.open(try pki.exportPFX(.rsa2048, options: ["-legacy"]), password: Secret(utf8: "secret"))
        expectFullChain(backup, kind: .rsa2048)
        let inspection = backup.inspection
        #expect(inspection.keyEncryption?.algorithm == "pbeWithSHAAnd3-KeyTripleDES-CBC")
        #expect(inspection.certificateEncryption?.algorithm == "pbeWithSHAAnd40BitRC2-CBC")
        #expect(inspection.mac?.digest == "SHA1")
        #expect(inspection.warnings.contains(.weakCipher("pbeWithSHAAnd3-KeyTripleDES-CBC")))
        #expect(inspection.warnings.contains(.weakCipher("pbeWithSHAAnd40BitRC2-CBC")))
        #expect(inspection.warnings.contains(.sha1MAC))
    }

    @Test("AES-256 bags with a SHA-1 MAC")
    func aesWithSHA1MAC() throws {
        let pfx = try pki.exportPFX(
            .p256, options: ["-macalg", "sha1", "-keypbe", "AES-256-CBC", "-certpbe", "AES-256-CBC"])
        let backup = try PFX.open(pfx, password: Secret(utf8: "secret"))
        expectFullChain(backup, kind: .p256)
        #expect(backup.inspection.keyEncryption?.algorithm == "PBES2/AES-256-CBC/PBKDF2-HMAC-SHA256")
        #expect(backup.inspection.mac?.digest == "SHA1")
        #expect(backup.inspection.warnings.contains(.sha1MAC))
    }

    @Test("unencrypted bags (-keypbe NONE -certpbe NONE) open and are flagged")
    func unencrypted() throws {
        let pfx = try pki.exportPFX(.p384, options: ["-keypbe", "NONE", "-certpbe", "NONE"])
        let backup = try PFX.open(pfx, password: Secret(utf8: "secret"))
        expectFullChain(backup, kind: .p384)
        #expect(backup.inspection.keyEncryption == Inspection.Encryption.none)
        #expect(backup.inspection.certificateEncryption == Inspection.Encryption.none)
        #expect(backup.inspection.warnings.contains(.unencryptedKey))
    }

    @Test("a file without a MAC opens and is flagged")
    func noMAC() throws {
        let backup = try PFX.open(try pki.exportPFX(.rsa2048, options: ["-nomac"]), password: Secret(utf8: "secret"))
        expectFullChain(backup, kind: .rsa2048)
        #expect(backup.inspection.mac == nil)
        #expect(backup.inspection.warnings.contains(.noMAC))
    }

    @Test("the empty password opens files written with it, modern and legacy", arguments: [false, true])
    func emptyPassword(legacy: Bool) throws {
        let pfx = try pki.exportPFX(.p256, password: "", options: legacy ? ["-legacy"] : [])
        let backup = try PFX.open(pfx, password: .empty)
        expectFullChain(backup, kind: .p256)
    }

    @Test("a non-ASCII friendlyName comes back as the same UTF-8")
    func friendlyName() throws {
        let name = "Zoë Müller 証明書"
        let backup = try PFX.open(try pki.exportPFX(.p521, name: name), password: Secret(utf8: "secret"))
        #expect(backup.friendlyName == name)
        expectFullChain(backup, kind: .p521)
    }

    @Test("a file without the chain holds just the leaf")
    func withoutChain() throws {
        let backup = try PFX.open(try pki.exportPFX(.rsa1024, chain: false), password: Secret(utf8: "secret"))
        #expect(backup.certificate.subject == TestPKI.leafSubject(.rsa1024))
        #expect(backup.chain.isEmpty)
        #expect(backup.friendlyName == nil)
    }

    @Test("inspecting without the password shows the structure, not the encrypted contents")
    func inspectWithoutPassword() throws {
        let inspection = try PFX.inspect(try pki.exportPFX(.rsa2048, options: ["-legacy"]))
        #expect(
            inspection.bagSets.contains {
                $0.content == .unknown && $0.encryption.algorithm == "pbeWithSHAAnd40BitRC2-CBC"
            })
        #expect(inspection.keyEncryption?.algorithm == "pbeWithSHAAnd3-KeyTripleDES-CBC")
        #expect(inspection.mac?.digest == "SHA1")
    }
}
