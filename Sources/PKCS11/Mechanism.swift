/// A CK_MECHANISM_TYPE.
public struct MechanismType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }

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
