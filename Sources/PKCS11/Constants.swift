internal import CPKCS11

/// PKCS#11 value sets as open structs, so vendor-defined values fit beside the spec's. The
/// spec's values are the generated constants in Constants+Values.swift, their names the
/// generated table in Names.swift (both by scripts/dev/gen-pkcs11-names.py from pkcs11.h);
/// CertBridge's own come from certbridge_vendor.h.

/// A CK_RV: what a Cryptoki function returned.
public struct ReturnValue: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// The spec's name, e.g. `CKR_PIN_INCORRECT`; vendor values print as hex.
    public var name: String {
        Names.returnValue[rawValue] ?? (rawValue >= 0x8000_0000 ? "CKR_VENDOR_DEFINED" : "an unknown CKR")
    }
    /// The name, as messages print it.
    public var description: String { "\(name) (0x\(String(rawValue, radix: 16, uppercase: true)))" }
}

/// A CK_ATTRIBUTE_TYPE.
public struct AttributeType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// CertBridge's software token: the key's own password, given only when the key is made
    /// (write-only; the Windows "High" level with a password for this item).
    public static let certBridgeKeyPassword = Self(rawValue: CKA_CERTBRIDGE_KEY_PASSWORD)
    /// CertBridge's software token: whether a key has its own password (read-only CK_BBOOL).
    public static let certBridgeHasKeyPassword = Self(rawValue: CKA_CERTBRIDGE_HAS_KEY_PASSWORD)
    /// CertBridge's software token: the approval every use of the key needs (CK_ULONG: 0 none,
    /// 1 a yes/no confirmation (Windows "Medium"), 2 a password (Windows "High")); fixed at creation.
    public static let certBridgeApproval = Self(rawValue: CKA_CERTBRIDGE_APPROVAL)
    /// CertBridge's software token: wrong passwords the key still allows before it locks (read-only CK_ULONG).
    public static let certBridgeTriesLeft = Self(rawValue: CKA_CERTBRIDGE_TRIES_LEFT)
    /// CertBridge's software token: the SO PIN, given with C_SetAttributeValue (write-only), unlocks a key
    /// locked by wrong passwords.
    public static let certBridgeUnlockWithSOPIN = Self(rawValue: CKA_CERTBRIDGE_UNLOCK_WITH_SO_PIN)
    /// CertBridge's software token, on its integrity report object: how many objects failed their
    /// integrity check (read-only CK_ULONG).
    public static let certBridgeIntegrityFailures = Self(rawValue: CKA_CERTBRIDGE_INTEGRITY_FAILURES)

    /// The spec's name for the value.
    public var name: String {
        if let name = Names.attribute[rawValue] { return name }
        return rawValue >= Self.vendorDefined.rawValue
            ? "CKA_VENDOR_DEFINED+0x\(String(rawValue - Self.vendorDefined.rawValue, radix: 16, uppercase: true))"
            : "CKA_0x\(String(rawValue, radix: 16, uppercase: true))"
    }
    /// The name, as messages print it.
    public var description: String { name }
}

/// A CK_OBJECT_CLASS.
public struct ObjectClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// CertBridge's software token: its integrity report (vendor-defined), found only by asking
    /// for this class.
    public static let certBridgeIntegrityReport = Self(rawValue: CKO_CERTBRIDGE_INTEGRITY_REPORT)

    /// The spec's name for the value.
    public var name: String { Names.objectClass[rawValue] ?? "CKO_VENDOR_DEFINED" }
    /// The name, as messages print it.
    public var description: String { name }
}

/// A CK_KEY_TYPE.
public struct KeyType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// The spec's name for the value.
    public var name: String { Names.keyType[rawValue] ?? "CKK_VENDOR_DEFINED" }
    /// The name, as messages print it.
    public var description: String { name }
}

/// A CK_CERTIFICATE_TYPE (CKA_CERTIFICATE_TYPE).
public struct CertificateType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// The spec's name for the value.
    public var name: String { Names.certificateType[rawValue] ?? "CKC_VENDOR_DEFINED" }
    /// The name, as messages print it.
    public var description: String { name }
}

/// A CK_USER_TYPE for C_Login.
public struct UserType: RawRepresentable, Hashable, Sendable {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }
}

/// CKA_CERTIFICATE_CATEGORY values.
public struct CertificateCategory: RawRepresentable, Hashable, Sendable {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }
}
