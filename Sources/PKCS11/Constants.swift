/// PKCS#11 value sets as open structs, so vendor-defined values fit beside the spec's.
/// Names come from the one generated table in Names.swift.

/// A CK_RV: what a Cryptoki function returned.
public struct ReturnValue: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let ok = Self(rawValue: 0x0)
    public static let cancel = Self(rawValue: 0x1)
    public static let hostMemory = Self(rawValue: 0x2)
    public static let slotIDInvalid = Self(rawValue: 0x3)
    public static let generalError = Self(rawValue: 0x5)
    public static let functionFailed = Self(rawValue: 0x6)
    public static let attributeReadOnly = Self(rawValue: 0x10)
    public static let attributeSensitive = Self(rawValue: 0x11)
    public static let attributeTypeInvalid = Self(rawValue: 0x12)
    public static let attributeValueInvalid = Self(rawValue: 0x13)
    public static let deviceError = Self(rawValue: 0x30)
    public static let deviceMemory = Self(rawValue: 0x31)
    public static let deviceRemoved = Self(rawValue: 0x32)
    public static let functionNotSupported = Self(rawValue: 0x54)
    public static let keyHandleInvalid = Self(rawValue: 0x60)
    public static let keyUnextractable = Self(rawValue: 0x6A)
    public static let mechanismInvalid = Self(rawValue: 0x70)
    public static let mechanismParamInvalid = Self(rawValue: 0x71)
    public static let objectHandleInvalid = Self(rawValue: 0x82)
    public static let operationActive = Self(rawValue: 0x90)
    public static let operationNotInitialized = Self(rawValue: 0x91)
    public static let pinIncorrect = Self(rawValue: 0xA0)
    public static let pinInvalid = Self(rawValue: 0xA1)
    public static let pinLenRange = Self(rawValue: 0xA2)
    public static let pinExpired = Self(rawValue: 0xA3)
    public static let pinLocked = Self(rawValue: 0xA4)
    public static let sessionClosed = Self(rawValue: 0xB0)
    public static let sessionHandleInvalid = Self(rawValue: 0xB3)
    public static let sessionReadOnly = Self(rawValue: 0xB5)
    public static let signatureInvalid = Self(rawValue: 0xC0)
    public static let signatureLenRange = Self(rawValue: 0xC1)
    public static let templateIncomplete = Self(rawValue: 0xD0)
    public static let templateInconsistent = Self(rawValue: 0xD1)
    public static let tokenNotPresent = Self(rawValue: 0xE0)
    public static let tokenNotRecognized = Self(rawValue: 0xE1)
    public static let tokenWriteProtected = Self(rawValue: 0xE2)
    public static let userAlreadyLoggedIn = Self(rawValue: 0x100)
    public static let userNotLoggedIn = Self(rawValue: 0x101)
    public static let userPinNotInitialized = Self(rawValue: 0x102)
    public static let userTypeInvalid = Self(rawValue: 0x103)
    public static let userAnotherAlreadyLoggedIn = Self(rawValue: 0x104)
    public static let bufferTooSmall = Self(rawValue: 0x150)
    public static let cryptokiNotInitialized = Self(rawValue: 0x190)
    public static let cryptokiAlreadyInitialized = Self(rawValue: 0x191)

    /// The spec's name, e.g. `CKR_PIN_INCORRECT`; vendor values print as hex.
    public var name: String { Names.returnValue[rawValue] ?? "CKR_VENDOR_DEFINED" }
    public var description: String { "\(name) (0x\(String(rawValue, radix: 16, uppercase: true)))" }
}

/// A CK_ATTRIBUTE_TYPE.
public struct AttributeType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let `class` = Self(rawValue: 0x0)
    public static let token = Self(rawValue: 0x1)
    public static let `private` = Self(rawValue: 0x2)
    public static let label = Self(rawValue: 0x3)
    public static let application = Self(rawValue: 0x10)
    public static let value = Self(rawValue: 0x11)
    public static let objectID = Self(rawValue: 0x12)
    public static let certificateType = Self(rawValue: 0x80)
    public static let issuer = Self(rawValue: 0x81)
    public static let serialNumber = Self(rawValue: 0x82)
    public static let trusted = Self(rawValue: 0x86)
    public static let certificateCategory = Self(rawValue: 0x87)
    public static let keyType = Self(rawValue: 0x100)
    public static let subject = Self(rawValue: 0x101)
    public static let id = Self(rawValue: 0x102)
    public static let sensitive = Self(rawValue: 0x103)
    public static let encrypt = Self(rawValue: 0x104)
    public static let decrypt = Self(rawValue: 0x105)
    public static let wrap = Self(rawValue: 0x106)
    public static let unwrap = Self(rawValue: 0x107)
    public static let sign = Self(rawValue: 0x108)
    public static let signRecover = Self(rawValue: 0x109)
    public static let verify = Self(rawValue: 0x10A)
    public static let verifyRecover = Self(rawValue: 0x10B)
    public static let derive = Self(rawValue: 0x10C)
    public static let startDate = Self(rawValue: 0x110)
    public static let endDate = Self(rawValue: 0x111)
    public static let modulus = Self(rawValue: 0x120)
    public static let modulusBits = Self(rawValue: 0x121)
    public static let publicExponent = Self(rawValue: 0x122)
    public static let privateExponent = Self(rawValue: 0x123)
    public static let prime1 = Self(rawValue: 0x124)
    public static let prime2 = Self(rawValue: 0x125)
    public static let exponent1 = Self(rawValue: 0x126)
    public static let exponent2 = Self(rawValue: 0x127)
    public static let coefficient = Self(rawValue: 0x128)
    public static let publicKeyInfo = Self(rawValue: 0x129)
    public static let valueLen = Self(rawValue: 0x161)
    public static let extractable = Self(rawValue: 0x162)
    public static let local = Self(rawValue: 0x163)
    public static let neverExtractable = Self(rawValue: 0x164)
    public static let alwaysSensitive = Self(rawValue: 0x165)
    public static let keyGenMechanism = Self(rawValue: 0x166)
    public static let modifiable = Self(rawValue: 0x170)
    public static let copyable = Self(rawValue: 0x171)
    public static let destroyable = Self(rawValue: 0x172)
    public static let ecParams = Self(rawValue: 0x180)
    public static let ecPoint = Self(rawValue: 0x181)
    public static let alwaysAuthenticate = Self(rawValue: 0x202)
    public static let wrapWithTrusted = Self(rawValue: 0x210)

    /// First value of the vendor-defined range (CKA_VENDOR_DEFINED).
    public static let vendorDefined = Self(rawValue: 0x8000_0000)
    /// CertBridge's software token: the key's own password, given only when the key is made
    /// (write-only; the Windows "High" level with a password for this item).
    public static let certBridgeKeyPassword = Self(rawValue: 0x8000_0000 | 0x4342_0001)
    /// CertBridge's software token: whether a key has its own password (read-only CK_BBOOL).
    public static let certBridgeHasKeyPassword = Self(rawValue: 0x8000_0000 | 0x4342_0002)

    public var name: String {
        if let name = Names.attribute[rawValue] { return name }
        return rawValue >= Self.vendorDefined.rawValue ? "CKA_VENDOR_DEFINED+0x\(String(rawValue - Self.vendorDefined.rawValue, radix: 16, uppercase: true))" : "CKA_0x\(String(rawValue, radix: 16, uppercase: true))"
    }
    public var description: String { name }
}

/// A CK_OBJECT_CLASS.
public struct ObjectClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let data = Self(rawValue: 0x0)
    public static let certificate = Self(rawValue: 0x1)
    public static let publicKey = Self(rawValue: 0x2)
    public static let privateKey = Self(rawValue: 0x3)
    public static let secretKey = Self(rawValue: 0x4)

    public var name: String { Names.objectClass[rawValue] ?? "CKO_VENDOR_DEFINED" }
    public var description: String { name }
}

/// A CK_KEY_TYPE.
public struct KeyType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let rsa = Self(rawValue: 0x0)
    public static let ec = Self(rawValue: 0x3)
    public static let genericSecret = Self(rawValue: 0x10)
    public static let aes = Self(rawValue: 0x1F)
    public static let ecEdwards = Self(rawValue: 0x40)

    public var name: String { Names.keyType[rawValue] ?? "CKK_VENDOR_DEFINED" }
    public var description: String { name }
}

/// A CK_USER_TYPE for C_Login.
public struct UserType: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let securityOfficer = Self(rawValue: 0)
    public static let user = Self(rawValue: 1)
    /// A login for the one operation that follows (CKU_CONTEXT_SPECIFIC, for CKA_ALWAYS_AUTHENTICATE keys).
    public static let contextSpecific = Self(rawValue: 2)
}

/// CKA_CERTIFICATE_CATEGORY values.
public struct CertificateCategory: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let unspecified = Self(rawValue: 0)
    public static let tokenUser = Self(rawValue: 1)
    public static let authority = Self(rawValue: 2)
    public static let otherEntity = Self(rawValue: 3)
}
