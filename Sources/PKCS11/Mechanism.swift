/// A CK_MECHANISM_TYPE.
public struct MechanismType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let rsaPKCSKeyPairGen = Self(rawValue: 0x0)
    public static let rsaPKCS = Self(rawValue: 0x1)
    public static let rsaX509 = Self(rawValue: 0x3)
    public static let sha256RSAPKCS = Self(rawValue: 0x40)
    public static let sha384RSAPKCS = Self(rawValue: 0x41)
    public static let sha512RSAPKCS = Self(rawValue: 0x42)
    public static let rsaPKCSPSS = Self(rawValue: 0x0D)
    public static let sha256RSAPKCSPSS = Self(rawValue: 0x43)
    public static let sha384RSAPKCSPSS = Self(rawValue: 0x44)
    public static let sha512RSAPKCSPSS = Self(rawValue: 0x45)
    public static let sha1 = Self(rawValue: 0x220)
    public static let sha256 = Self(rawValue: 0x250)
    public static let sha384 = Self(rawValue: 0x260)
    public static let sha512 = Self(rawValue: 0x270)
    public static let ecKeyPairGen = Self(rawValue: 0x1040)
    public static let ecdsa = Self(rawValue: 0x1041)
    public static let ecdsaSHA256 = Self(rawValue: 0x1044)
    public static let ecdsaSHA384 = Self(rawValue: 0x1045)
    public static let ecdsaSHA512 = Self(rawValue: 0x1046)
    public static let ecEdwardsKeyPairGen = Self(rawValue: 0x1055)
    public static let eddsa = Self(rawValue: 0x1057)
    public static let aesKeyGen = Self(rawValue: 0x1080)
    public static let aesCBCPad = Self(rawValue: 0x1085)
    public static let aesKeyWrap = Self(rawValue: 0x2109)
    public static let aesKeyWrapPad = Self(rawValue: 0x210A)

    public var name: String { Names.mechanism[rawValue] ?? "CKM_VENDOR_DEFINED" }
    public var description: String { name }
}

/// MGF identifiers for RSA-PSS (CKG_MGF1_*).
public struct MaskGeneration: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }
    public static let mgf1SHA1 = Self(rawValue: 1)
    public static let mgf1SHA256 = Self(rawValue: 2)
    public static let mgf1SHA384 = Self(rawValue: 3)
    public static let mgf1SHA512 = Self(rawValue: 4)
}

/// A CK_MECHANISM: a type and its parameter block, laid out as the C struct it stands for.
public struct Mechanism: Hashable, Sendable, CustomStringConvertible {
    public let type: MechanismType
    /// The raw parameter bytes (e.g. a CK_RSA_PKCS_PSS_PARAMS or an IV); empty for none.
    public let parameter: [UInt8]

    public init(_ type: MechanismType, parameter: [UInt8] = []) {
        self.type = type
        self.parameter = parameter
    }

    /// RSA-PSS with its CK_RSA_PKCS_PSS_PARAMS {hashAlg, mgf, sLen}.
    public static func pss(_ type: MechanismType, hash: MechanismType, mgf: MaskGeneration, saltLength: UInt) -> Mechanism {
        Mechanism(type, parameter: ulongBytes([hash.rawValue, mgf.rawValue, saltLength]))
    }

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
