import PKCS12
import Testing

/// Private keys from PKCS#8 (what C_WrapKey yields) and their components for C_CreateObject.
@Suite struct PrivateKeyTests {
    let pki = TestPKI.shared

    /// The leaf's key as unencrypted PKCS#8 DER, from `openssl pkcs8 -topk8 -nocrypt`.
    private func pkcs8(_ kind: LeafKind) throws -> [UInt8] {
        let name = "\(kind.rawValue)-\(Int.random(in: 0..<Int.max)).p8"
        try pki.run(["pkcs8", "-topk8", "-nocrypt", "-in", "\(kind.rawValue).key", "-outform", "DER", "-out", name])
        return try pki.bytes(name)
    }

    @Test(
        "PKCS#8 with or without wrap padding reads as the same key, matching its certificate",
        arguments: [LeafKind.rsa2048, .p256, .p521])
    func pkcs8(kind: LeafKind) throws {
        let der = try pkcs8(kind)
        let plain = try PrivateKey(pkcs8DER: der)
        let padded = try PrivateKey(pkcs8DER: der + [UInt8](repeating: 0, count: 7))
        #expect(plain.publicKeyInfo == padded.publicKeyInfo)
        #expect(plain.publicKeyInfo == (try pki.leafPublicKeyInfo(kind)))
        #expect(plain.type == kind.expectedType)
        let certificate = try #require(try Certificate.parseAll(try pki.bytes("\(kind.rawValue).pem")).first)
        #expect(plain.matches(certificate))
        #expect(plain.keyID == (try PublicKeyInfo.keyID(of: certificate.publicKeyInfo)))
        plain.withPKCS8 { #expect(Array($0) == der) }
    }

    @Test("a key does not match another key's certificate or SPKI")
    func mismatch() throws {
        let key = try PrivateKey(pkcs8DER: try pkcs8(.p256))
        #expect(!key.matches(publicKeyInfo: try pki.leafPublicKeyInfo(.p384)))
        let other = try #require(try Certificate.parseAll(try pki.bytes("rsa2048.pem")).first)
        #expect(!key.matches(other))
    }

    @Test("the SPKI written without OpenSSL is openssl's, and other encodings of the key still match it")
    func publicKeyInfoEncodings() throws {
        let ed25519 = try PrivateKey(pkcs8DER: try pkcs8(.ed25519))
        #expect(ed25519.publicKeyInfo == (try pki.leafPublicKeyInfo(.ed25519)))
        // A compressed point is the same P-256 key in other bytes: the DER comparison leaves it
        // to OpenSSL, which must say so; a point of another key stays another key.
        let p256 = try PrivateKey(pkcs8DER: try pkcs8(.p256))
        let name = "p256-\(Int.random(in: 0..<Int.max)).compressed.spki"
        try pki.run([
            "ec", "-in", "p256.key", "-pubout", "-conv_form", "compressed", "-outform", "DER", "-out", name,
        ])
        let compressed = try pki.bytes(name)
        #expect(compressed != p256.publicKeyInfo)
        #expect(p256.matches(publicKeyInfo: compressed))
        #expect(!ed25519.matches(publicKeyInfo: compressed))
        let intermediate = try #require(try Certificate.parseAll(try pki.bytes("intermediate.pem")).first)
        #expect(!p256.matches(intermediate))
    }

    @Test("an RSA SPKI without rsaEncryption's NULL parameters is the same key; another RSA key's SPKI is not")
    func rsaParameters() throws {
        let key = try PrivateKey(pkcs8DER: try pkcs8(.rsa2048))
        // 30 82 LL LL | 30 0D 06 09 <rsaEncryption> 05 00 | 03 82 ... (the key bits)
        var spki = key.publicKeyInfo
        try #require(Array(spki[4..<6]) == [0x30, 0x0D] && Array(spki[17..<19]) == [0x05, 0x00])
        spki.removeSubrange(17..<19)
        spki[5] = 0x0B
        let outer = (Int(spki[2]) << 8 | Int(spki[3])) - 2
        spki[2] = UInt8(outer >> 8)
        spki[3] = UInt8(outer & 0xFF)
        #expect(key.matches(publicKeyInfo: spki))
        let other = try PrivateKey(pkcs8DER: try pkcs8(.rsa1024))
        #expect(!key.matches(publicKeyInfo: other.publicKeyInfo))
        #expect(!other.matches(publicKeyInfo: spki))
    }

    @Test("RSA components are the CRT set, sized for the modulus")
    func rsaComponents() throws {
        let key = try PrivateKey(pkcs8DER: try pkcs8(.rsa2048))
        guard case .rsa(let modulus, let exponent) = key.publicKey else {
            Issue.record("not RSA")
            return
        }
        #expect(modulus.count == 256)
        #expect(exponent == [0x01, 0x00, 0x01])
        key.withPrivateComponents { components in
            guard case .rsa(let d, let p, let q, let dp, let dq, let qinv) = components else {
                Issue.record("not RSA components")
                return
            }
            #expect(d.count <= 256 && d.count >= 250)
            for half in [p, q, dp, dq, qinv] { #expect(half.count <= 128 && half.count >= 120) }
            #expect(p.first.map { $0 != 0 } == true)
        }
    }

    @Test("EC private values are padded to the curve size", arguments: [LeafKind.p256, .p384, .p521])
    func ecValue(kind: LeafKind) throws {
        let key = try PrivateKey(pkcs8DER: try pkcs8(kind))
        guard case .ec(let curve) = key.type else {
            Issue.record("not EC")
            return
        }
        #expect(key.bits == curve.bits)
        key.withPrivateComponents { components in
            guard case .ec(let value) = components else {
                Issue.record("not EC components")
                return
            }
            #expect(value.count == (curve.bits + 7) / 8)
        }
        guard case .ec(let parameters, let point) = key.publicKey else {
            Issue.record("no EC point")
            return
        }
        #expect(parameters == curve.parametersDER)
        #expect(try Curve(parametersDER: parameters) == curve)
        // An OCTET STRING around 04‖X‖Y.
        #expect(point.last.map { _ in point.contains(0x04) } == true)
        #expect(point.count - (point[1] == 0x81 ? 3 : 2) == 1 + 2 * ((curve.bits + 7) / 8))
    }

    @Test("damaged PKCS#8 is refused as corrupt; Ed25519 PKCS#8 is read")
    func refused() throws {
        #expect(try PrivateKey(pkcs8DER: try pkcs8(.ed25519)).type == .edwards("Ed25519"), "Ed25519 is read now")
        var damaged = try pkcs8(.p256)
        damaged.removeLast(5)
        #expect(throws: PKCS12Error.corrupt) { try PrivateKey(pkcs8DER: damaged) }
        #expect(throws: PKCS12Error.corrupt) { try PrivateKey(pkcs8DER: [0, 0, 0, 0, 0, 0, 0, 0]) }
    }

    @Test("a key whose private and public halves disagree is refused")
    func inconsistentKey() throws {
        // OpenSSL's P-256 PKCS#8 ends with the public point (65 bytes); put the intermediate CA's
        // valid P-256 point there instead, so only a pairwise check can notice.
        var der = try pkcs8(.p256)
        let intermediate = try #require(try Certificate.parseAll(try pki.bytes("intermediate.pem")).first)
        der.replaceSubrange((der.count - 65)..., with: intermediate.publicKeyInfo.suffix(65))
        let error = #expect(throws: PKCS12Error.self) { try PrivateKey(pkcs8DER: der) }
        #expect(error?.code == .corrupt)
        #expect(error?.reason.contains("do not belong together") == true)
        // A point off the curve fails earlier, with the same code.
        var offCurve = try pkcs8(.p256)
        offCurve[offCurve.count - 3] ^= 0x01
        #expect(throws: PKCS12Error.corrupt) { try PrivateKey(pkcs8DER: offCurve) }
    }

    @Test("an RSA key whose private exponent or CRT coefficient does not fit its modulus is refused")
    func inconsistentRSAKey() throws {
        let der = try pkcs8(.rsa2048)
        #expect(throws: Never.self) { try PrivateKey(pkcs8DER: der) }
        // RSAPrivateKey: version, n, e (02 03 01 00 01), d, p, q, dP, dQ, qInv — qInv last.
        let e: [UInt8] = [0x02, 0x03, 0x01, 0x00, 0x01]
        let eAt = try #require(der.indices.first { der[$0...].starts(with: e) })
        var wrongD = der
        wrongD[eAt + e.count + 4 + 100] ^= 0x01  // past d's header (02 82 len len), inside d
        var wrongQInv = der
        wrongQInv[der.count - 2] ^= 0x01
        for damaged in [wrongD, wrongQInv] {
            let error = #expect(throws: PKCS12Error.self) { try PrivateKey(pkcs8DER: damaged) }
            #expect(error?.code == .corrupt)
            #expect(error?.reason.contains("do not belong together") == true)
        }
    }
}
