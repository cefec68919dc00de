/// A CK_MECHANISM_TYPE.
public struct MechanismType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// CKM_RSA_PKCS_KEY_PAIR_GEN.
    public static let rsaPKCSKeyPairGen = Self(rawValue: 0x0)
    /// CKM_RSA_PKCS.
    public static let rsaPKCS = Self(rawValue: 0x1)
    /// CKM_RSA_X_509.
    public static let rsaX509 = Self(rawValue: 0x3)
    /// CKM_SHA256_RSA_PKCS.
    public static let sha256RSAPKCS = Self(rawValue: 0x40)
    /// CKM_SHA384_RSA_PKCS.
    public static let sha384RSAPKCS = Self(rawValue: 0x41)
    /// CKM_SHA512_RSA_PKCS.
    public static let sha512RSAPKCS = Self(rawValue: 0x42)
    /// CKM_RSA_PKCS_PSS.
    public static let rsaPKCSPSS = Self(rawValue: 0x0D)
    /// CKM_SHA256_RSA_PKCS_PSS.
    public static let sha256RSAPKCSPSS = Self(rawValue: 0x43)
    /// CKM_SHA384_RSA_PKCS_PSS.
    public static let sha384RSAPKCSPSS = Self(rawValue: 0x44)
    /// CKM_SHA512_RSA_PKCS_PSS.
    public static let sha512RSAPKCSPSS = Self(rawValue: 0x45)
    /// CKM_SHA_1.
    public static let sha1 = Self(rawValue: 0x220)
    /// CKM_SHA256.
    public static let sha256 = Self(rawValue: 0x250)
    /// CKM_SHA384.
    public static let sha384 = Self(rawValue: 0x260)
    /// CKM_SHA512.
    public static let sha512 = Self(rawValue: 0x270)
    /// CKM_RSA_PKCS_OAEP.
    public static let rsaPKCSOAEP = Self(rawValue: 0x9)
    /// CKM_ECDH1_DERIVE.
    public static let ecdh1Derive = Self(rawValue: 0x1050)
    /// CKM_EC_KEY_PAIR_GEN.
    public static let ecKeyPairGen = Self(rawValue: 0x1040)
    /// CKM_ECDSA.
    public static let ecdsa = Self(rawValue: 0x1041)
    /// CKM_ECDSA_SHA256.
    public static let ecdsaSHA256 = Self(rawValue: 0x1044)
    /// CKM_ECDSA_SHA384.
    public static let ecdsaSHA384 = Self(rawValue: 0x1045)
    /// CKM_ECDSA_SHA512.
    public static let ecdsaSHA512 = Self(rawValue: 0x1046)
    /// CKM_EC_EDWARDS_KEY_PAIR_GEN.
    public static let ecEdwardsKeyPairGen = Self(rawValue: 0x1055)
    /// CKM_EDDSA.
    public static let eddsa = Self(rawValue: 0x1057)
    /// CKM_AES_KEY_GEN.
    public static let aesKeyGen = Self(rawValue: 0x1080)
    /// CKM_AES_CBC_PAD.
    public static let aesCBCPad = Self(rawValue: 0x1085)
    /// CKM_AES_KEY_WRAP.
    public static let aesKeyWrap = Self(rawValue: 0x2109)
    /// CKM_AES_KEY_WRAP_PAD.
    public static let aesKeyWrapPad = Self(rawValue: 0x210A)

    /// The spec's name for the value.
    public var name: String { Names.mechanism[rawValue] ?? "CKM_VENDOR_DEFINED" }
    /// The name, as messages print it.
    public var description: String { name }
}

/// MGF identifiers for RSA-PSS (CKG_MGF1_*).
public struct MaskGeneration: RawRepresentable, Hashable, Sendable {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }
    /// CKG_MGF1_SHA1.
    public static let mgf1SHA1 = Self(rawValue: 1)
    /// CKG_MGF1_SHA256.
    public static let mgf1SHA256 = Self(rawValue: 2)
    /// CKG_MGF1_SHA384.
    public static let mgf1SHA384 = Self(rawValue: 3)
    /// CKG_MGF1_SHA512.
    public static let mgf1SHA512 = Self(rawValue: 4)
}

/// A CK_MECHANISM: a type and its parameter block, laid out as the C struct it stands for.
public struct Mechanism: Hashable, Sendable, CustomStringConvertible {
    /// The CKM_* value.
    public let type: MechanismType
    /// The raw parameter bytes (e.g. a CK_RSA_PKCS_PSS_PARAMS or an IV); empty for none.
    public let parameter: [UInt8]

    /// A mechanism with its parameter bytes (empty for none).
    public init(_ type: MechanismType, parameter: [UInt8] = []) {
        self.type = type
        self.parameter = parameter
    }

    /// RSA-PSS with its CK_RSA_PKCS_PSS_PARAMS {hashAlg, mgf, sLen}.
    public static func pss(_ type: MechanismType, hash: MechanismType, mgf: MaskGeneration, saltLength: UInt)
        -> Mechanism
    {
        Mechanism(type, parameter: ulongBytes([hash.rawValue, mgf.rawValue, saltLength]))
    }

    /// The name, as messages print it.
    public var description: String { type.name }
}

/// Native-endian CK_ULONG encoding, as C structs and attribute values hold them.
func ulongBytes(_ values: [UInt]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(values.count * MemoryLayout<UInt>.size)
    for var value in values {
        withUnsafeBytes(of: &value) { out.append(contentsOf: $0) }
    }
    return out
}
