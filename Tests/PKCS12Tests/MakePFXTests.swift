import PKCS12
import Testing

/// Writing PFX files: `openssl` reads them with the promised algorithms, and they reopen to
/// the same key and chain.
@Suite struct MakePFXTests {
    let pki = TestPKI.shared

    private func source(_ kind: LeafKind) throws -> Backup {
        try PFX.open(try pki.exportPFX(kind), password: Secret(utf8: "secret"))
    }

    private func expectSameContents(_ copy: Backup, as original: Backup) {
        #expect(copy.privateKey.publicKeyInfo == original.privateKey.publicKeyInfo)
        #expect(copy.privateKey.type == original.privateKey.type)
        #expect(copy.certificate == original.certificate)
        #expect(copy.chain == original.chain)
        original.privateKey.withPKCS8 { originalKey in
            copy.privateKey.withPKCS8 { copyKey in #expect(Array(copyKey) == Array(originalKey)) }
        }
    }

    @Test(
        "modern: PBES2/AES-256-CBC/PBKDF2-HMAC-SHA256 and an HMAC-SHA256 MAC, read by openssl and by us",
        arguments: [LeafKind.rsa2048, .p384])
    func modern(kind: LeafKind) throws {
        let original = try source(kind)
        let pfx = try PFX.make(
            key: original.privateKey, certificate: original.certificate, chain: original.chain,
            friendlyName: "Zoë 証明書", password: Secret(utf8: "n3w pässword"), profile: .modern)
        let info = try pki.info(pfx, password: "n3w pässword")
        #expect(info.contains("MAC: sha256, Iteration \(Profile.modernIterations)"))
        #expect(
            info.contains(
                "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration \(Profile.modernIterations), PRF hmacWithSHA256"
            ))
        #expect(
            info.contains(
                "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration \(Profile.modernIterations), PRF hmacWithSHA256"
            ))

        let copy = try PFX.open(pfx, password: Secret(utf8: "n3w pässword"))
        expectSameContents(copy, as: original)
        #expect(copy.friendlyName == "Zoë 証明書")
        #expect(copy.inspection.warnings.isEmpty)
        #expect(copy.inspection.keyEncryption?.iterations == Profile.modernIterations)
    }

    @Test("compat: 3DES for key and certificates, SHA-1 MAC, 2048 iterations")
    func compat() throws {
        let original = try source(.rsa1024)
        let pfx = try PFX.make(
            key: original.privateKey, certificate: original.certificate, chain: original.chain,
            password: Secret(utf8: "secret"), profile: .compat)
        let info = try pki.info(pfx, password: "secret")
        #expect(info.contains("MAC: sha1, Iteration 2048"))
        #expect(info.contains("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048"))
        #expect(info.contains("PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048"))

        let copy = try PFX.open(pfx, password: Secret(utf8: "secret"))
        expectSameContents(copy, as: original)
        #expect(copy.inspection.keyEncryption?.algorithm == "pbeWithSHAAnd3-KeyTripleDES-CBC")
        #expect(copy.inspection.certificateEncryption?.algorithm == "pbeWithSHAAnd3-KeyTripleDES-CBC")
        #expect(copy.inspection.warnings.contains(.sha1MAC))
    }

    @Test("an empty password writes a file that openssl and we open with the empty password")
    func emptyPassword() throws {
        let original = try source(.p256)
        let pfx = try PFX.make(
            key: original.privateKey, certificate: original.certificate,
            password: .empty, profile: .compat)
        let name = try pki.save(pfx)
        try pki.run(["pkcs12", "-info", "-noout", "-in", name, "-passin", "pass:"])
        let copy = try PFX.open(pfx, password: .empty)
        #expect(copy.privateKey.publicKeyInfo == original.privateKey.publicKeyInfo)
        #expect(copy.certificate == original.certificate)
        #expect(copy.chain.isEmpty)
    }

    @Test("a key with someone else's certificate is refused")
    func mismatch() throws {
        let a = try source(.p256)
        let b = try source(.p384)
        #expect(throws: PKCS12Error.keyDoesNotMatchCertificate) {
            try PFX.make(key: a.privateKey, certificate: b.certificate, password: Secret(utf8: "x"), profile: .compat)
        }
    }

    @Test("a zero-padded PKCS#8 (as CKM_AES_KEY_WRAP_PAD unwraps it) becomes a PFX")
    func fromWrappedPKCS8() throws {
        let original = try source(.p521)
        var padded = original.privateKey.withPKCS8 { Array($0) }
        padded += [UInt8](repeating: 0, count: 8 - padded.count % 8)
        let pfx = try PFX.make(
            pkcs8DER: padded, certificate: original.certificate, chain: original.chain,
            password: Secret(utf8: "secret"), profile: .compat)
        expectSameContents(try PFX.open(pfx, password: Secret(utf8: "secret")), as: original)
    }
}
