/// Walks a PFX's ASN.1 structure (RFC 7292) before OpenSSL parses or derives anything, and
/// refuses it when it is too large, nested too deep, or asks for more iterations than
/// `PFXLimits` allows: in the MAC, in an encrypted part's PBE or PBES2/PBKDF2, and in each
/// shrouded key bag of a plain part. (Key bags inside an encrypted part are checked by
/// `SafeContentsDecoder` once that part, within the limits, is decrypted.)
///
/// Anything it does not understand is left for OpenSSL to judge: the preflight only refuses.
struct PFXPreflight {
    private let limits: PFXLimits

    private enum OID {
        static let data: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01]
        static let encryptedData: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x06]
        static let shroudedKeyBag: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x02]
        static let safeContentsBag: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x06]
        static let pbes2: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D]
        static let pbkdf2: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C]
        /// pkcs-12PbeIds (1.2.840.113549.1.12.1.x).
        static let pkcs12PBE: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01]
        /// PKCS#5 (1.2.840.113549.1.5.x); PBES1 schemes are x = 1, 3, 4, 6, 10, 11.
        static let pkcs5: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05]
        static let pbes1: Set<UInt8> = [1, 3, 4, 6, 10, 11]
    }

    private typealias Element = DERReader.Element

    /// Checks `bytes` against `limits`; throws `limitExceeded` or `corrupt`.
    static func check(_ bytes: [UInt8], limits: PFXLimits) throws(PKCS12Error) {
        guard bytes.count <= PFXLimits.maxFileSize else {
            throw PKCS12Error(
                .limitExceeded,
                "the file is \(bytes.count) bytes, more than the \(PFXLimits.maxFileSize >> 20) MiB a PFX backup may be"
            )
        }
        do {
            try PFXPreflight(limits: limits).walk(bytes)
        } catch let malformed as DERReader.Malformed {
            throw PKCS12Error(.corrupt, "not a PFX/PKCS#12 file, or truncated or damaged (\(malformed.reason))")
        } catch let error as PKCS12Error {
            throw error
        } catch {
            throw PKCS12Error(.corrupt, "not a PFX/PKCS#12 file (\(error))")
        }
    }

    private init(limits: PFXLimits) { self.limits = limits }

    /// PFX ::= SEQUENCE { version, authSafe ContentInfo, macData MacData OPTIONAL }
    private func walk(_ bytes: [UInt8]) throws {
        let reader = DERReader(bytes: bytes)
        let pfx = try reader.element(at: 0, limit: bytes.count, depth: 0)
        guard pfx.tag == 0x30 else { throw DERReader.Malformed(reason: "it does not start with a SEQUENCE") }
        let fields = try reader.children(of: pfx, depth: 0)
        guard fields.count >= 2 else { throw DERReader.Malformed(reason: "a PFX has a version and contents") }
        if fields.count >= 3 {
            // MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }
            let mac = try reader.children(of: fields[2], depth: 1)
            if mac.count >= 3 { try check(reader, mac[2], in: "MAC") }
        }
        guard let authSafe = try content(of: fields[1], reader: reader, depth: 1) else { return }
        // AuthenticatedSafe ::= SEQUENCE OF ContentInfo, in the data's octets.
        let inner = DERReader(bytes: authSafe.bytes)
        let sequence = try inner.element(at: 0, limit: authSafe.bytes.count, depth: authSafe.depth)
        for (index, part) in try inner.children(of: sequence, depth: authSafe.depth).enumerated() {
            try walkPart(part, number: index + 1, reader: inner, depth: authSafe.depth + 1)
        }
    }

    /// A ContentInfo of type data: its octets. Nil for any other type.
    private func content(of info: Element, reader: DERReader, depth: Int) throws -> (bytes: [UInt8], depth: Int)? {
        let fields = try reader.children(of: info, depth: depth)
        guard fields.count >= 2, let type = reader.objectIdentifier(fields[0]), type.elementsEqual(OID.data) else {
            return nil
        }
        let explicit = try reader.children(of: fields[1], depth: depth + 1)
        guard let octets = explicit.first else { return nil }
        return (try reader.octets(of: octets, depth: depth + 2), depth + 3)
    }

    /// One part of the authenticated safe: plain SafeContents or EncryptedData.
    private func walkPart(_ part: Element, number: Int, reader: DERReader, depth: Int) throws {
        let fields = try reader.children(of: part, depth: depth)
        guard fields.count >= 2, let type = reader.objectIdentifier(fields[0]) else { return }
        if type.elementsEqual(OID.data) {
            guard let safe = try content(of: part, reader: reader, depth: depth) else { return }
            let inner = DERReader(bytes: safe.bytes)
            let contents = try inner.element(at: 0, limit: safe.bytes.count, depth: safe.depth)
            try walkBags(contents, reader: inner, depth: safe.depth)
        } else if type.elementsEqual(OID.encryptedData) {
            // [0] EXPLICIT EncryptedData ::= SEQUENCE { version, EncryptedContentInfo ::=
            //   SEQUENCE { contentType, contentEncryptionAlgorithm, [0] IMPLICIT encryptedContent } }
            guard let encryptedData = try reader.children(of: fields[1], depth: depth + 1).first else { return }
            let dataFields = try reader.children(of: encryptedData, depth: depth + 2)
            guard dataFields.count >= 2 else { return }
            let info = try reader.children(of: dataFields[1], depth: depth + 3)
            guard info.count >= 2 else { return }
            try checkAlgorithm(info[1], reader: reader, depth: depth + 4, in: "encryption of part \(number)")
        }
    }

    /// SafeContents ::= SEQUENCE OF SafeBag; SafeBag ::= SEQUENCE { bagId, [0] EXPLICIT bagValue, attributes }
    private func walkBags(_ contents: Element, reader: DERReader, depth: Int) throws {
        for bag in try reader.children(of: contents, depth: depth) {
            let fields = try reader.children(of: bag, depth: depth + 1)
            guard fields.count >= 2, let type = reader.objectIdentifier(fields[0]),
                let value = try reader.children(of: fields[1], depth: depth + 2).first
            else { continue }
            if type.elementsEqual(OID.shroudedKeyBag) {
                // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm, encryptedData }
                guard let algorithm = try reader.children(of: value, depth: depth + 3).first else { continue }
                try checkAlgorithm(algorithm, reader: reader, depth: depth + 4, in: "key's encryption")
            } else if type.elementsEqual(OID.safeContentsBag) {
                try walkBags(value, reader: reader, depth: depth + 3)
            }
        }
    }

    /// An AlgorithmIdentifier of a password-based scheme: PBES2 with PBKDF2, a PKCS#12 PBE, or
    /// PBES1. Their parameters carry the iteration count (RFC 8018 A.2–A.4, RFC 7292 C).
    private func checkAlgorithm(_ identifier: Element, reader: DERReader, depth: Int, in what: String) throws {
        let fields = try reader.children(of: identifier, depth: depth)
        guard fields.count >= 2, let oid = reader.objectIdentifier(fields[0]) else { return }
        if oid.elementsEqual(OID.pbes2) {
            // PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme }
            guard let kdf = try reader.children(of: fields[1], depth: depth + 1).first else { return }
            let kdfFields = try reader.children(of: kdf, depth: depth + 2)
            guard kdfFields.count >= 2, let kdfOID = reader.objectIdentifier(kdfFields[0]),
                kdfOID.elementsEqual(OID.pbkdf2)
            else { return }
            // PBKDF2-params ::= SEQUENCE { salt, iterationCount INTEGER, keyLength OPTIONAL, prf OPTIONAL }
            let parameters = try reader.children(of: kdfFields[1], depth: depth + 3)
            guard parameters.count >= 2 else { return }
            try check(reader, parameters[1], in: "\(what) (PBKDF2)")
        } else if oid.starts(with: OID.pkcs12PBE) && oid.count == OID.pkcs12PBE.count + 1
            || oid.starts(with: OID.pkcs5) && oid.count == OID.pkcs5.count + 1 && OID.pbes1.contains(oid.last!)
        {
            // pkcs-12PbeParams / PBEParameter ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }
            let parameters = try reader.children(of: fields[1], depth: depth + 1)
            guard parameters.count >= 2 else { return }
            try check(reader, parameters[1], in: "\(what) (PBE)")
        }
    }

    private func check(_ reader: DERReader, _ element: Element, in what: String) throws {
        guard element.tag == 0x02 else { return }
        guard let iterations = reader.integer(element) else {
            throw PKCS12Error(.corrupt, "the \(what) has a negative iteration count")
        }
        try limits.check(iterations: iterations, in: what)
    }
}
