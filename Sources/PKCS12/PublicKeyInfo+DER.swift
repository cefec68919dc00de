/// SubjectPublicKeyInfo (RFC 5280 §4.1) written and compared as DER, without OpenSSL: OpenSSL 3.0
/// builds an encoder or decoder chain for each `i2d_PUBKEY` and `d2i_PUBKEY` (0.3–0.9 ms a
/// call, several per imported key). Anything this file does not recognise goes to OpenSSL.
extension PublicKeyInfo {
    /// The contents of the algorithm OIDs known here: key types that are never the same key
    /// as one another.
    private enum Algorithm {
        static let rsaEncryption: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
        static let ecPublicKey: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
        static let ed25519: [UInt8] = [0x2B, 0x65, 0x70]
        static let ed448: [UInt8] = [0x2B, 0x65, 0x71]
        static let all = [rsaEncryption, ecPublicKey, ed25519, ed448]
        /// DER NULL: rsaEncryption's parameters (RFC 3279 §2.3.1).
        static let null: [UInt8] = [0x05, 0x00]
    }

    /// The SPKI DER of `key`, byte for byte what `i2d_PUBKEY` writes: rsaEncryption with NULL
    /// parameters and an RSAPublicKey (RFC 3279 §2.3.1), id-ecPublicKey with the named curve
    /// (§2.3.5), or id-Ed25519/id-Ed448 with no parameters (RFC 8410 §4).
    static func der(of key: PublicKey) -> [UInt8] {
        let algorithm: [UInt8]
        let subjectPublicKey: [UInt8]
        switch key {
        case .rsa(let modulus, let publicExponent):
            algorithm = tlv(0x06, Algorithm.rsaEncryption) + Algorithm.null
            subjectPublicKey = tlv(0x30, unsignedInteger(modulus) + unsignedInteger(publicExponent))
        case .ec(let parameters, let point):
            algorithm = tlv(0x06, Algorithm.ecPublicKey) + parameters
            subjectPublicKey = unwrapOctetString(point) ?? point
        case .edwards(let parameters, let point):
            algorithm = parameters
            subjectPublicKey = unwrapOctetString(point) ?? point
        }
        return tlv(0x30, tlv(0x30, algorithm) + tlv(0x03, [0] + subjectPublicKey))
    }

    /// Whether two SPKIs hold the same key, judged from their DER: the same algorithm and
    /// parameters and the same key bits (an RSAPublicKey is DER, so one key has one encoding;
    /// so has an uncompressed EC point), or two key types that cannot be one key. Nil when it
    /// takes OpenSSL to tell (a compressed point, RSA-PSS, a non-minimal integer, damage).
    static func sameByDER(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool? {
        guard let a = Parts(lhs), let b = Parts(rhs) else { return nil }
        if a.oid != b.oid {
            return Algorithm.all.contains(a.oid) && Algorithm.all.contains(b.oid) ? false : nil
        }
        switch a.oid {
        case Algorithm.rsaEncryption:
            guard [[], Algorithm.null].contains(a.parameters), [[], Algorithm.null].contains(b.parameters) else {
                return nil
            }
            if a.key == b.key { return true }
            return minimalRSA(a.key) && minimalRSA(b.key) ? false : nil
        case Algorithm.ecPublicKey:
            guard a.parameters == b.parameters, a.key.first == 0x04, b.key.first == 0x04 else { return nil }
            return a.key == b.key
        case Algorithm.ed25519, Algorithm.ed448:
            guard a.parameters.isEmpty, b.parameters.isEmpty else { return nil }
            return a.key == b.key
        default:
            return nil
        }
    }

    /// An SPKI taken apart: the algorithm OID's contents, its parameters (DER, empty when
    /// absent) and the subjectPublicKey bits (no unused bits).
    private struct Parts {
        let oid: [UInt8]
        let parameters: [UInt8]
        let key: [UInt8]

        init?(_ der: [UInt8]) {
            let reader = DERReader(bytes: der)
            guard let spki = try? reader.element(at: 0, limit: der.count, depth: 0), spki.tag == 0x30,
                !spki.indefinite, spki.contents.upperBound == der.count,
                let fields = try? reader.children(of: spki, depth: 0), fields.count == 2,
                fields[0].tag == 0x30, !fields[0].indefinite, fields[1].tag == 0x03,
                let identifier = try? reader.children(of: fields[0], depth: 1),
                (1...2).contains(identifier.count), identifier[0].tag == 0x06,
                identifier.allSatisfy({ !$0.indefinite }),
                let unused = fields[1].contents.first.map({ der[$0] }), unused == 0
            else { return nil }
            oid = Array(der[identifier[0].contents])
            // The parameters element, whole: from the end of the OID to the end of the identifier.
            parameters = Array(der[identifier[0].contents.upperBound..<fields[0].contents.upperBound])
            key = Array(der[(fields[1].contents.lowerBound + 1)..<fields[1].contents.upperBound])
        }
    }

    /// Whether an RSAPublicKey's two INTEGERs are minimal DER (no redundant leading byte), so
    /// that different bytes mean different numbers.
    private static func minimalRSA(_ key: [UInt8]) -> Bool {
        let reader = DERReader(bytes: key)
        guard let sequence = try? reader.element(at: 0, limit: key.count, depth: 0), sequence.tag == 0x30,
            let integers = try? reader.children(of: sequence, depth: 0), integers.count == 2
        else { return false }
        return integers.allSatisfy { integer in
            let contents = key[integer.contents]
            guard integer.tag == 0x02, let first = contents.first else { return false }
            guard contents.count > 1 else { return true }
            let second = contents[contents.startIndex + 1]
            return !(first == 0x00 && second & 0x80 == 0) && !(first == 0xFF && second & 0x80 != 0)
        }
    }

    /// A DER INTEGER of a big-endian unsigned number (leading zeros dropped, one added when
    /// the top bit is set).
    static func unsignedInteger(_ bytes: [UInt8]) -> [UInt8] {
        var value = Array(bytes.drop { $0 == 0 })
        if value.first.map({ $0 & 0x80 != 0 }) ?? true { value.insert(0, at: 0) }
        return tlv(0x02, value)
    }

    /// One DER element: tag, definite length (short or long form), contents.
    static func tlv(_ tag: UInt8, _ contents: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [tag]
        if contents.count < 0x80 {
            out.append(UInt8(contents.count))
        } else {
            var length: [UInt8] = []
            var count = contents.count
            while count > 0 {
                length.insert(UInt8(count & 0xFF), at: 0)
                count >>= 8
            }
            out.append(0x80 | UInt8(length.count))
            out += length
        }
        out += contents
        return out
    }
}
