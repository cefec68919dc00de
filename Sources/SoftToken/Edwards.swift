internal import CPKCS11
import CSoftTokenCrypto

/// The Edwards curves of CKK_EC_EDWARDS keys (RFC 8032): Ed25519 and Ed448.
enum EdwardsCurve: CaseIterable {
    case ed25519, ed448

    /// OpenSSL's key type name.
    var name: String { self == .ed25519 ? "ED25519" : "ED448" }
    /// Raw key length, public and private alike.
    var keyLength: Int { self == .ed25519 ? 32 : 57 }
    var signatureLength: Int { self == .ed25519 ? 64 : 114 }
    /// The size C_GetMechanismInfo gives (the field size in bits).
    var bits: Int { self == .ed25519 ? 255 : 448 }
    /// CKA_EC_PARAMS as the token writes it when it has to choose: the RFC 8410 OID.
    var params: [UInt8] { [0x06, 0x03, 0x2B, 0x65, self == .ed25519 ? 0x70 : 0x71] }

    /// CKA_EC_PARAMS in each form PKCS#11 3.0 §2.3.5 allows: the RFC 8410 OID (id-Ed25519
    /// 1.3.101.112, id-Ed448 1.3.101.113), the printable curve name ("edwards25519",
    /// "edwards448"), and OpenSC's older OID for edwards25519 (1.3.6.1.4.1.11591.15.1).
    private var accepted: [[UInt8]] {
        let printable = Array((self == .ed25519 ? "edwards25519" : "edwards448").utf8)
        var forms = [params, [0x13, UInt8(printable.count)] + printable]
        if self == .ed25519 { forms.append([0x06, 0x09, 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01]) }
        return forms
    }

    init?(params: [UInt8]) {
        guard let curve = Self.allCases.first(where: { $0.accepted.contains(params) }) else { return nil }
        self = curve
    }

    init?(_ key: CryptoKey) {
        switch cbst_key_edwards(key.pointer) {
        case 25519: self = .ed25519
        case 448: self = .ed448
        default: return nil
        }
    }

    /// A new key pair.
    func generate() throws(CKRError) -> CryptoKey {
        guard let key = CryptoKey(cbst_generate_edwards(name)) else { throw CKRError(CKR.functionFailed) }
        return key
    }

    /// The key from its raw private key (CKA_VALUE).
    func privateKey(_ raw: [UInt8]) throws(CKRError) -> CryptoKey {
        guard raw.count == keyLength, let key = CryptoKey(cbst_edwards_private(name, raw, raw.count)) else {
            throw CKRError(CKR.attributeValueInvalid)
        }
        return key
    }

    /// The key from CKA_EC_POINT: the raw public key in a DER OCTET STRING, as PKCS#11 3.0 has
    /// it, or bare, as some callers give it.
    func publicKey(_ point: [UInt8]) throws(CKRError) -> CryptoKey {
        for raw in [unwrapOctetString(point), point].compactMap({ $0 }) where raw.count == keyLength {
            if let key = CryptoKey(cbst_edwards_public(name, raw, raw.count)) { return key }
        }
        throw CKRError(CKR.attributeValueInvalid)
    }
}

extension CryptoKey {
    var isEdwards: Bool { edwardsKind != 0 }

    /// An Edwards key's raw public key ("ec_point") or raw private key ("ec_d"), the names
    /// `component` uses for the EC equivalents.
    func edwardsComponent(_ name: String) -> [UInt8]? {
        guard name == "ec_point" || name == "ec_d" else { return nil }
        let part: Int32 = name == "ec_d" ? 1 : 0
        let length = cbst_edwards_raw(pointer, part, nil, 0)
        guard length > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        guard cbst_edwards_raw(pointer, part, &out, out.count) == length else { return nil }
        return out
    }

    /// A pure EdDSA signature of the whole message into `out`; its length, or -1.
    func signEdDSA(_ message: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Int {
        cbst_eddsa_sign(pointer, message.baseAddress, message.count, &out, out.count)
    }

    /// 1 valid, 0 invalid, -1 error.
    func verifyEdDSA(_ message: [UInt8], _ signature: [UInt8]) -> Int32 {
        cbst_eddsa_verify(pointer, message, message.count, signature, signature.count)
    }
}
