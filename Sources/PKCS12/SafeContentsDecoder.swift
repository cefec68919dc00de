internal import COpenSSL

/// The bags of a PFX decoded under one password candidate, with what went wrong on the way.
///
/// Decoding records failures instead of throwing, because the caller compares attempts under
/// several candidates to tell a wrong password from a damaged file.
final class SafeContentsDecoder {
    struct KeyBag {
        let key: Result<PrivateKey, PKCS12Error>
        let friendlyName: String?
        let localKeyID: [UInt8]?
    }

    struct CertificateBag {
        let handle: X509Handle
        let friendlyName: String?
        let localKeyID: [UInt8]?
    }

    private(set) var keys: [KeyBag] = []
    private(set) var certificates: [CertificateBag] = []
    private(set) var bagSets: [Inspection.BagSet] = []
    /// Encrypted parts or shrouded keys that did not decrypt: password-dependent.
    private(set) var decryptionFailures: [String] = []
    /// Damage no password explains: unreadable plain parts or bags.
    private(set) var structuralFailures: [String] = []
    /// Parts or ciphers we cannot handle at all.
    private(set) var unsupported: [String] = []
    /// How many encrypted parts and shrouded keys decrypted: proof the password is right.
    private(set) var decryptedCount = 0
    /// Shrouded keys inside an encrypted part whose iteration count is over the cap: left
    /// undecrypted (the preflight cannot see inside encrypted parts).
    private(set) var overLimit: [PKCS12Error] = []
    private let limits: PFXLimits

    /// Whether every part and bag decoded.
    var isClean: Bool {
        decryptionFailures.isEmpty && structuralFailures.isEmpty && unsupported.isEmpty && overLimit.isEmpty
    }

    /// Decodes every part of `file`; with no `password`, encrypted contents are left unread.
    init(file: PFXFile, password: PasswordCandidate?, limits: PFXLimits = PFXLimits()) {
        self.limits = limits
        defer { ERR_clear_error() }
        for (index, part) in file.parts.enumerated() {
            let partName = "part \(index + 1)"
            switch OBJ_obj2nid(part.pointee.type) {
            case NID_pkcs7_data:
                guard let bags = PKCS12_unpack_p7data(part) else {
                    structuralFailures.append("\(partName) is unreadable (\(OpenSSLRuntime.drainErrors()))")
                    continue
                }
                defer { CB_sk_PKCS12_SAFEBAG_pop_free(bags) }
                readBags(bags, in: .none, partName: partName, password: password)
            case NID_pkcs7_encrypted:
                let algorithm = part.pointee.d.encrypted?.pointee.enc_data?.pointee.algorithm
                let encryption = EncryptionAlgorithm.describe(algorithm)
                guard let password else {
                    bagSets.append(Inspection.BagSet(content: .unknown, encryption: encryption))
                    continue
                }
                guard let bags = PKCS12_unpack_p7encdata(part, password.pointer, password.length) else {
                    noteDecryptionFailure(
                        "\(partName) (\(encryption.algorithm)) does not decrypt", encryption: encryption)
                    bagSets.append(Inspection.BagSet(content: .unknown, encryption: encryption))
                    continue
                }
                defer { CB_sk_PKCS12_SAFEBAG_pop_free(bags) }
                decryptedCount += 1
                readBags(bags, in: encryption, partName: partName, password: password)
            default:
                // Public-key privacy mode (EnvelopedData) needs the recipient's key, which a
                // password-protected backup never uses.
                unsupported.append(
                    "\(partName) is \(OpenSSLRuntime.name(of: part.pointee.type)), not password-protected data")
            }
        }
    }

    /// Reads one SafeContents; records a bag set for its plain bags and one per shrouded key.
    private func readBags(
        _ bags: OpaquePointer, in encryption: Inspection.Encryption, partName: String,
        password: PasswordCandidate?
    ) {
        var sawKey = false
        var sawCertificate = false
        var sawOther = false
        var shroudedSets: [Inspection.BagSet] = []
        for index in 0..<CB_sk_PKCS12_SAFEBAG_num(bags) {
            guard let bag = CB_sk_PKCS12_SAFEBAG_value(bags, index) else { continue }
            let name = Self.friendlyName(bag)
            let keyID = Self.localKeyID(bag)
            switch PKCS12_SAFEBAG_get_nid(bag) {
            case NID_keyBag:
                sawKey = true
                guard let info = PKCS12_SAFEBAG_get0_p8inf(bag) else {
                    structuralFailures.append("a key bag in \(partName) is unreadable")
                    continue
                }
                keys.append(
                    KeyBag(
                        key: Result { () throws(PKCS12Error) in try PrivateKey(pkcs8Info: info) },
                        friendlyName: name, localKeyID: keyID))
            case NID_pkcs8ShroudedKeyBag:
                var algorithm: UnsafePointer<X509_ALGOR>? = nil
                X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &algorithm, nil)
                let keyEncryption = EncryptionAlgorithm.describe(algorithm)
                shroudedSets.append(Inspection.BagSet(content: .keys, encryption: keyEncryption))
                guard let password else { continue }
                do throws(PKCS12Error) {
                    try limits.check(
                        iterations: Int64(keyEncryption.iterations ?? 0), in: "key's encryption in \(partName)")
                } catch {
                    overLimit.append(error)
                    continue
                }
                guard let info = PKCS12_decrypt_skey(bag, password.pointer, password.length) else {
                    noteDecryptionFailure(
                        "the key bag (\(keyEncryption.algorithm)) does not decrypt", encryption: keyEncryption)
                    continue
                }
                defer { PKCS8_PRIV_KEY_INFO_free(info) }
                decryptedCount += 1
                keys.append(
                    KeyBag(
                        key: Result { () throws(PKCS12Error) in try PrivateKey(pkcs8Info: info) },
                        friendlyName: name, localKeyID: keyID))
            case NID_certBag:
                sawCertificate = true
                guard PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate else {
                    sawOther = true  // SDSI certificates: nothing a token stores.
                    continue
                }
                guard let x509 = PKCS12_SAFEBAG_get1_cert(bag) else {
                    structuralFailures.append(
                        "a certificate in \(partName) is unreadable (\(OpenSSLRuntime.drainErrors()))")
                    continue
                }
                certificates.append(
                    CertificateBag(handle: X509Handle(owning: x509), friendlyName: name, localKeyID: keyID))
            case NID_safeContentsBag:
                if let nested = PKCS12_SAFEBAG_get0_safes(bag) {
                    readBags(nested, in: encryption, partName: partName, password: password)
                }
            default:
                sawOther = true  // CRL and secret bags: nothing to import.
            }
        }
        let content: Inspection.Content? =
            switch (sawKey, sawCertificate) {
            case (true, true): .keysAndCertificates
            case (true, false): .keys
            case (false, true): .certificates
            case (false, false): sawOther ? .other : nil
            }
        if let content {
            bagSets.append(Inspection.BagSet(content: content, encryption: encryption))
        } else if encryption.isEncrypted && shroudedSets.isEmpty {
            bagSets.append(Inspection.BagSet(content: .other, encryption: encryption))
        }
        bagSets += shroudedSets
    }

    /// A failure to decrypt is the password's fault, unless the cipher needs the legacy provider
    /// and it did not load: then no password would work.
    private func noteDecryptionFailure(_ message: String, encryption: Inspection.Encryption) {
        let needsLegacy = ["RC2", "RC4"].contains { encryption.algorithm.uppercased().contains($0) }
        if needsLegacy && !OpenSSLRuntime.hasLegacyProvider {
            unsupported.append("\(message): OpenSSL's legacy provider (for \(encryption.algorithm)) is not installed")
        } else {
            decryptionFailures.append(message)
        }
        ERR_clear_error()
    }

    /// The friendlyName attribute (a BMPString, UTF-16BE) as a String. Decoded here rather than
    /// with `PKCS12_get_friendlyname`, which in OpenSSL 3.0.19 returns NULL for any name with
    /// a character beyond ASCII.
    private static func friendlyName(_ bag: OpaquePointer) -> String? {
        guard let attribute = PKCS12_SAFEBAG_get0_attr(bag, NID_friendlyName),
            attribute.pointee.type == V_ASN1_BMPSTRING
        else { return nil }
        let bytes = OpenSSLRuntime.bytes(of: attribute.pointee.value.bmpstring)
        guard !bytes.isEmpty, bytes.count % 2 == 0 else { return nil }
        let units = stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        return String(decoding: units, as: UTF16.self)
    }

    /// The localKeyID attribute's bytes (`PKCS12_SAFEBAG_get0_attr`).
    private static func localKeyID(_ bag: OpaquePointer) -> [UInt8]? {
        guard let attribute = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID),
            attribute.pointee.type == V_ASN1_OCTET_STRING
        else { return nil }
        return OpenSSLRuntime.bytes(of: attribute.pointee.value.octet_string)
    }
}
