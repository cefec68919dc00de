import PKCS12
import Testing

/// Files without the pieces an import needs, or with keys it cannot put on a token.
@Suite struct KeyPresenceTests {
    let pki = TestPKI.shared

    @Test("an Ed25519 key opens as an Edwards key: the curve's OID and the raw public key in an OCTET STRING")
    func ed25519() throws {
        let pfx = try pki.exportPFX(.ed25519)
        let backup = try PFX.open(pfx, password: Secret(utf8: "secret"))
        #expect(backup.privateKey.type == .edwards("Ed25519"))
        guard case .edwards(let parameters, let point) = backup.privateKey.publicKey else {
            Issue.record("not an Edwards key")
            return
        }
        #expect(parameters == [0x06, 0x03, 0x2B, 0x65, 0x70])
        #expect(point.count == 34 && point[0] == 0x04 && point[1] == 32)
        #expect(try PublicKeyInfo.edwards(parameters: parameters, point: point) == backup.certificate.publicKeyInfo)
        backup.privateKey.withPrivateComponents { components in
            guard case .edwards(let value) = components else {
                Issue.record("not Edwards components")
                return
            }
            #expect(value.count == 32)
        }
    }

    @Test("a certificates-only file is noPrivateKey")
    func certificatesOnly() throws {
        let pfx = try pki.exportPFX(.p256, options: ["-nokeys"])
        #expect(throws: PKCS12Error.noPrivateKey) { try PFX.open(pfx, password: Secret(utf8: "secret")) }
    }

    @Test("a key without its certificate is keyDoesNotMatchCertificate")
    func keyOnly() throws {
        let pfx = try pki.exportPFX(.p256, chain: false, options: ["-nocerts"])
        #expect(throws: PKCS12Error.keyDoesNotMatchCertificate) { try PFX.open(pfx, password: Secret(utf8: "secret")) }
    }

    @Test("a key with only someone else's certificates is keyDoesNotMatchCertificate")
    func keyWithForeignCertificates() throws {
        // The P-256 key, with the chain but not its own leaf.
        let name = "foreign.p12"
        try pki.run([
            "pkcs12", "-export", "-inkey", "p256.key", "-in", "p384.pem", "-nocerts", "-certfile", "chain.pem",
            "-passout", "file:" + (try pki.passwordFile("secret")), "-out", name,
        ])
        #expect(throws: PKCS12Error.keyDoesNotMatchCertificate) {
            try PFX.open(try pki.bytes(name), password: Secret(utf8: "secret"))
        }
    }
}
