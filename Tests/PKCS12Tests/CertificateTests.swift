import Foundation
import PKCS12
import Testing

/// X.509 helpers agree with what `openssl x509` says about the same certificate.
@Suite struct CertificateTests {
    let pki = TestPKI.shared

    /// `openssl x509 -noout <flag>` on a PEM file in the PKI directory, value after "=".
    private func field(_ file: String, _ flags: String...) throws -> String {
        let output = try pki.run(["x509", "-noout", "-in", file] + flags).stdout
        return output.split(separator: "\n").first.map { line in
            line.firstIndex(of: "=").map { String(line[line.index(after: $0)...]) } ?? String(line)
        } ?? ""
    }

    @Test("a PEM bundle parses into every certificate, in file order")
    func pemBundle() throws {
        let certificates = try Certificate.parseAll(try pki.bytes("chain.pem"))
        #expect(certificates.map(\.subject) == [TestPKI.rootSubject, TestPKI.intermediateSubject])
        #expect(certificates[1].isIssued(by: certificates[0]))
        #expect(!certificates[0].isIssued(by: certificates[1]))
        #expect(certificates[0].isSelfIssued)
    }

    @Test("the listing's fields, read without decoding the key, are exactly the full parse's; damage is refused")
    func listingFields() throws {
        let certificates =
            try Certificate.parseAll(try pki.bytes("chain.pem")) + Certificate.parseAll(try pki.bytes("p256.pem"))
        #expect(certificates.count == 3)
        for certificate in certificates {
            let fields = try CertificateFields(der: certificate.der)
            #expect(fields.subject == certificate.subject && fields.issuer == certificate.issuer)
            #expect(fields.serialNumber == certificate.serialNumber)
            #expect(fields.notBefore == certificate.notBefore && fields.notAfter == certificate.notAfter)
        }
        let der = try #require(certificates.last).der
        #expect(throws: PKCS12Error.self) { try CertificateFields(der: Array(der.prefix(der.count / 2))) }
        #expect(throws: PKCS12Error.self) { try CertificateFields(der: [0x30, 0x03, 0x02, 0x01, 0x01]) }
    }

    @Test("DER and PEM of one certificate give the same fields, matching openssl x509")
    func fields() throws {
        try pki.run(["x509", "-in", "p256.pem", "-outform", "DER", "-out", "p256.der"])
        let fromDER = try Certificate.parseAll(try pki.bytes("p256.der"))
        let fromPEM = try Certificate.parseAll(try pki.bytes("p256.pem"))
        #expect(fromDER == fromPEM)
        let certificate = try #require(fromPEM.first)
        #expect(certificate.der == (try pki.bytes("p256.der")))
        #expect(certificate.subject == TestPKI.leafSubject(.p256))
        #expect(certificate.issuer == TestPKI.intermediateSubject)
        #expect(certificate.commonName == "Zoë Müller p256")
        #expect(certificate.serialNumber == (try field("p256.pem", "-serial")))
        #expect(!certificate.isCA)
        #expect(certificate.notAfter.timeIntervalSince(certificate.notBefore) == 30 * 86_400)
        #expect(abs(certificate.notBefore.timeIntervalSinceNow) < 3_600)
        // CKA_SERIAL_NUMBER is the DER INTEGER: tag 2, length, the serial's bytes.
        #expect(certificate.serialNumberDER.first == 0x02)
        #expect(Int(certificate.serialNumberDER[1]) == certificate.serialNumberDER.count - 2)
        // CKA_SUBJECT/CKA_ISSUER are DER Names: SEQUENCE, and the issuer's is the CA's subject.
        #expect(certificate.subjectDER.first == 0x30)
        let intermediate = try #require(try Certificate.parseAll(try pki.bytes("intermediate.pem")).first)
        #expect(certificate.issuerDER == intermediate.subjectDER)
        #expect(intermediate.isCA)
    }

    @Test("garbage is corrupt, in DER and in PEM")
    func garbage() throws {
        #expect(throws: PKCS12Error.corrupt) { try Certificate(der: [0x30, 0x03, 0x02, 0x01, 0x01]) }
        #expect(throws: PKCS12Error.corrupt) { try Certificate.parseAll(Array("hello".utf8)) }
        let pem = String(decoding: try pki.bytes("root.pem"), as: UTF8.self)
        let damaged = pem.replacingOccurrences(of: "M", with: "*")
        #expect(throws: PKCS12Error.corrupt) { try Certificate.parseAll(Array(damaged.utf8)) }
    }

    @Test(
        "an SPKI rebuilt from token attributes matches the certificate",
        arguments: [
            LeafKind.rsa2048, .p256, .p384, .p521,
        ])
    func rebuiltPublicKey(kind: LeafKind) throws {
        let backup = try PFX.open(try pki.exportPFX(kind, chain: false), password: Secret(utf8: "secret"))
        let rebuilt: [UInt8]
        switch backup.privateKey.publicKey {
        case .rsa(let modulus, let exponent):
            #expect(modulus.count * 8 == kind.expectedBits)
            rebuilt = try PublicKeyInfo.rsa(modulus: modulus, publicExponent: exponent)
        case .ec(let parameters, let point):
            #expect(
                parameters
                    == (try #require(kind.expectedType.flatMap { if case .ec(let c) = $0 { c } else { nil } }))
                    .parametersDER)
            #expect(point.first == 0x04)  // a DER OCTET STRING ...
            #expect(point.contains(0x04))  // ... around an uncompressed point
            rebuilt = try PublicKeyInfo.ec(parameters: parameters, point: point)
        case .edwards(let parameters, let point):
            rebuilt = try PublicKeyInfo.edwards(parameters: parameters, point: point)
        }
        #expect(rebuilt == backup.certificate.publicKeyInfo)
        #expect(backup.certificate.matches(publicKeyInfo: rebuilt))
        #expect(!backup.certificate.matches(publicKeyInfo: try pki.leafPublicKeyInfo(kind == .p256 ? .p384 : .p256)))
    }

    @Test("the key ID is the SHA-1 of the public key bits, as openssl's subjectKeyIdentifier=hash")
    func keyID() throws {
        for kind in [LeafKind.rsa2048, .p256] {
            let certificate = try #require(try Certificate.parseAll(try pki.bytes("\(kind.rawValue).pem")).first)
            let output = try pki.run(["x509", "-noout", "-in", "\(kind.rawValue).pem", "-ext", "subjectKeyIdentifier"])
                .stdout
            let expected = output.split(separator: "\n").last!.trimmingCharacters(in: .whitespaces)
            let keyID = try PublicKeyInfo.keyID(of: certificate.publicKeyInfo)
            #expect(keyID.map { String(format: "%02X", $0) }.joined(separator: ":") == expected)
        }
    }

    @Test("bad public key values are refused")
    func badPublicKeys() throws {
        #expect(throws: PKCS12Error.unsupportedAlgorithm) {
            try PublicKeyInfo.ec(parameters: [0x06, 0x03, 0x2B, 0x65, 0x70], point: [0x04, 0x01, 0x00])  // Ed25519 OID
        }
        #expect(throws: PKCS12Error.corrupt) {
            try PublicKeyInfo.ec(parameters: Curve.p256.parametersDER, point: [0x04, 0x03, 0x04, 0x01, 0x02])
        }
        #expect(throws: PKCS12Error.corrupt) { try PublicKeyInfo.keyID(of: [1, 2, 3]) }
    }
}
