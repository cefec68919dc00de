internal import CPKCS11

/// PKCS#11 value sets as open structs, so vendor-defined values fit beside the spec's.
/// Names come from the one generated table in Names.swift.

/// A CK_RV: what a Cryptoki function returned.
public struct ReturnValue: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// CKR_OK.
    public static let ok = Self(rawValue: 0x0)
    /// CKR_CANCEL.
    public static let cancel = Self(rawValue: 0x1)
    /// CKR_HOST_MEMORY.
    public static let hostMemory = Self(rawValue: 0x2)
    /// CKR_SLOT_ID_INVALID.
    public static let slotIDInvalid = Self(rawValue: 0x3)
    /// CKR_GENERAL_ERROR.
    public static let generalError = Self(rawValue: 0x5)
    /// CKR_FUNCTION_FAILED.
    public static let functionFailed = Self(rawValue: 0x6)
    /// CKR_ATTRIBUTE_READ_ONLY.
    public static let attributeReadOnly = Self(rawValue: 0x10)
    /// CKR_ATTRIBUTE_SENSITIVE.
    public static let attributeSensitive = Self(rawValue: 0x11)
    /// CKR_ATTRIBUTE_TYPE_INVALID.
    public static let attributeTypeInvalid = Self(rawValue: 0x12)
    /// CKR_ATTRIBUTE_VALUE_INVALID.
    public static let attributeValueInvalid = Self(rawValue: 0x13)
    /// CKR_DEVICE_ERROR.
    public static let deviceError = Self(rawValue: 0x30)
    /// CKR_DEVICE_MEMORY.
    public static let deviceMemory = Self(rawValue: 0x31)
    /// CKR_DEVICE_REMOVED.
    public static let deviceRemoved = Self(rawValue: 0x32)
    /// CKR_FUNCTION_NOT_SUPPORTED.
    public static let functionNotSupported = Self(rawValue: 0x54)
    /// CKR_KEY_HANDLE_INVALID.
    public static let keyHandleInvalid = Self(rawValue: 0x60)
    /// CKR_KEY_UNEXTRACTABLE.
    public static let keyUnextractable = Self(rawValue: 0x6A)
    /// CKR_KEY_NOT_WRAPPABLE: the token cannot wrap a key of this type.
    public static let keyNotWrappable = Self(rawValue: 0x69)
    /// CKR_MECHANISM_INVALID.
    public static let mechanismInvalid = Self(rawValue: 0x70)
    /// CKR_MECHANISM_PARAM_INVALID.
    public static let mechanismParamInvalid = Self(rawValue: 0x71)
    /// CKR_OBJECT_HANDLE_INVALID.
    public static let objectHandleInvalid = Self(rawValue: 0x82)
    /// CKR_OPERATION_ACTIVE.
    public static let operationActive = Self(rawValue: 0x90)
    /// CKR_OPERATION_NOT_INITIALIZED.
    public static let operationNotInitialized = Self(rawValue: 0x91)
    /// CKR_PIN_INCORRECT.
    public static let pinIncorrect = Self(rawValue: 0xA0)
    /// CKR_PIN_INVALID.
    public static let pinInvalid = Self(rawValue: 0xA1)
    /// CKR_PIN_LEN_RANGE.
    public static let pinLenRange = Self(rawValue: 0xA2)
    /// CKR_PIN_EXPIRED.
    public static let pinExpired = Self(rawValue: 0xA3)
    /// CKR_PIN_LOCKED.
    public static let pinLocked = Self(rawValue: 0xA4)
    /// CKR_SESSION_CLOSED.
    public static let sessionClosed = Self(rawValue: 0xB0)
    /// CKR_SESSION_HANDLE_INVALID.
    public static let sessionHandleInvalid = Self(rawValue: 0xB3)
    /// CKR_SESSION_READ_ONLY.
    public static let sessionReadOnly = Self(rawValue: 0xB5)
    /// CKR_SIGNATURE_INVALID.
    public static let signatureInvalid = Self(rawValue: 0xC0)
    /// CKR_SIGNATURE_LEN_RANGE.
    public static let signatureLenRange = Self(rawValue: 0xC1)
    /// CKR_TEMPLATE_INCOMPLETE.
    public static let templateIncomplete = Self(rawValue: 0xD0)
    /// CKR_TEMPLATE_INCONSISTENT.
    public static let templateInconsistent = Self(rawValue: 0xD1)
    /// CKR_TOKEN_NOT_PRESENT.
    public static let tokenNotPresent = Self(rawValue: 0xE0)
    /// CKR_TOKEN_NOT_RECOGNIZED.
    public static let tokenNotRecognized = Self(rawValue: 0xE1)
    /// CKR_TOKEN_WRITE_PROTECTED.
    public static let tokenWriteProtected = Self(rawValue: 0xE2)
    /// CKR_USER_ALREADY_LOGGED_IN.
    public static let userAlreadyLoggedIn = Self(rawValue: 0x100)
    /// CKR_USER_NOT_LOGGED_IN.
    public static let userNotLoggedIn = Self(rawValue: 0x101)
    /// CKR_USER_PIN_NOT_INITIALIZED.
    public static let userPinNotInitialized = Self(rawValue: 0x102)
    /// CKR_USER_TYPE_INVALID.
    public static let userTypeInvalid = Self(rawValue: 0x103)
    /// CKR_USER_ANOTHER_ALREADY_LOGGED_IN.
    public static let userAnotherAlreadyLoggedIn = Self(rawValue: 0x104)
    /// CKR_BUFFER_TOO_SMALL.
    public static let bufferTooSmall = Self(rawValue: 0x150)
    /// CKR_CRYPTOKI_NOT_INITIALIZED.
    public static let cryptokiNotInitialized = Self(rawValue: 0x190)
    /// CKR_CRYPTOKI_ALREADY_INITIALIZED.
    public static let cryptokiAlreadyInitialized = Self(rawValue: 0x191)

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

    /// CKA_CLASS.
    public static let `class` = Self(rawValue: 0x0)
    /// CKA_TOKEN.
    public static let token = Self(rawValue: 0x1)
    /// CKA_PRIVATE.
    public static let `private` = Self(rawValue: 0x2)
    /// CKA_LABEL.
    public static let label = Self(rawValue: 0x3)
    /// CKA_APPLICATION.
    public static let application = Self(rawValue: 0x10)
    /// CKA_VALUE.
    public static let value = Self(rawValue: 0x11)
    /// CKA_OBJECT_ID.
    public static let objectID = Self(rawValue: 0x12)
    /// CKA_CERTIFICATE_TYPE.
    public static let certificateType = Self(rawValue: 0x80)
    /// CKA_ISSUER.
    public static let issuer = Self(rawValue: 0x81)
    /// CKA_SERIAL_NUMBER.
    public static let serialNumber = Self(rawValue: 0x82)
    /// CKA_TRUSTED.
    public static let trusted = Self(rawValue: 0x86)
    /// CKA_CERTIFICATE_CATEGORY.
    public static let certificateCategory = Self(rawValue: 0x87)
    /// CKA_KEY_TYPE.
    public static let keyType = Self(rawValue: 0x100)
    /// CKA_SUBJECT.
    public static let subject = Self(rawValue: 0x101)
    /// CKA_ID.
    public static let id = Self(rawValue: 0x102)
    /// CKA_SENSITIVE.
    public static let sensitive = Self(rawValue: 0x103)
    /// CKA_ENCRYPT.
    public static let encrypt = Self(rawValue: 0x104)
    /// CKA_DECRYPT.
    public static let decrypt = Self(rawValue: 0x105)
    /// CKA_WRAP.
    public static let wrap = Self(rawValue: 0x106)
    /// CKA_UNWRAP.
    public static let unwrap = Self(rawValue: 0x107)
    /// CKA_SIGN.
    public static let sign = Self(rawValue: 0x108)
    /// CKA_SIGN_RECOVER.
    public static let signRecover = Self(rawValue: 0x109)
    /// CKA_VERIFY.
    public static let verify = Self(rawValue: 0x10A)
    /// CKA_VERIFY_RECOVER.
    public static let verifyRecover = Self(rawValue: 0x10B)
    /// CKA_DERIVE.
    public static let derive = Self(rawValue: 0x10C)
    /// CKA_START_DATE.
    public static let startDate = Self(rawValue: 0x110)
    /// CKA_END_DATE.
    public static let endDate = Self(rawValue: 0x111)
    /// CKA_MODULUS.
    public static let modulus = Self(rawValue: 0x120)
    /// CKA_MODULUS_BITS.
    public static let modulusBits = Self(rawValue: 0x121)
    /// CKA_PUBLIC_EXPONENT.
    public static let publicExponent = Self(rawValue: 0x122)
    /// CKA_PRIVATE_EXPONENT.
    public static let privateExponent = Self(rawValue: 0x123)
    /// CKA_PRIME_1.
    public static let prime1 = Self(rawValue: 0x124)
    /// CKA_PRIME_2.
    public static let prime2 = Self(rawValue: 0x125)
    /// CKA_EXPONENT_1.
    public static let exponent1 = Self(rawValue: 0x126)
    /// CKA_EXPONENT_2.
    public static let exponent2 = Self(rawValue: 0x127)
    /// CKA_COEFFICIENT.
    public static let coefficient = Self(rawValue: 0x128)
    /// CKA_PUBLIC_KEY_INFO.
    public static let publicKeyInfo = Self(rawValue: 0x129)
    /// CKA_VALUE_LEN.
    public static let valueLen = Self(rawValue: 0x161)
    /// CKA_EXTRACTABLE.
    public static let extractable = Self(rawValue: 0x162)
    /// CKA_LOCAL.
    public static let local = Self(rawValue: 0x163)
    /// CKA_NEVER_EXTRACTABLE.
    public static let neverExtractable = Self(rawValue: 0x164)
    /// CKA_ALWAYS_SENSITIVE.
    public static let alwaysSensitive = Self(rawValue: 0x165)
    /// CKA_KEY_GEN_MECHANISM.
    public static let keyGenMechanism = Self(rawValue: 0x166)
    /// CKA_MODIFIABLE.
    public static let modifiable = Self(rawValue: 0x170)
    /// CKA_COPYABLE.
    public static let copyable = Self(rawValue: 0x171)
    /// CKA_DESTROYABLE.
    public static let destroyable = Self(rawValue: 0x172)
    /// CKA_EC_PARAMS.
    public static let ecParams = Self(rawValue: 0x180)
    /// CKA_EC_POINT.
    public static let ecPoint = Self(rawValue: 0x181)
    /// CKA_ALWAYS_AUTHENTICATE.
    public static let alwaysAuthenticate = Self(rawValue: 0x202)
    /// CKA_WRAP_WITH_TRUSTED.
    public static let wrapWithTrusted = Self(rawValue: 0x210)

    /// First value of the vendor-defined range (CKA_VENDOR_DEFINED).
    public static let vendorDefined = Self(rawValue: 0x8000_0000)
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

    /// CKO_DATA.
    public static let data = Self(rawValue: 0x0)
    /// CKO_CERTIFICATE.
    public static let certificate = Self(rawValue: 0x1)
    /// CKO_PUBLIC_KEY.
    public static let publicKey = Self(rawValue: 0x2)
    /// CKO_PRIVATE_KEY.
    public static let privateKey = Self(rawValue: 0x3)
    /// CKO_SECRET_KEY.
    public static let secretKey = Self(rawValue: 0x4)
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

    /// CKK_RSA.
    public static let rsa = Self(rawValue: 0x0)
    /// CKK_EC.
    public static let ec = Self(rawValue: 0x3)
    /// CKK_GENERIC_SECRET.
    public static let genericSecret = Self(rawValue: 0x10)
    /// CKK_AES.
    public static let aes = Self(rawValue: 0x1F)
    /// CKK_EC_EDWARDS.
    public static let ecEdwards = Self(rawValue: 0x40)

    /// The spec's name for the value.
    public var name: String { Names.keyType[rawValue] ?? "CKK_VENDOR_DEFINED" }
    /// The name, as messages print it.
    public var description: String { name }
}

/// A CK_USER_TYPE for C_Login.
public struct UserType: RawRepresentable, Hashable, Sendable {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// CKU_SO.
    public static let securityOfficer = Self(rawValue: 0)
    /// CKU_USER.
    public static let user = Self(rawValue: 1)
    /// A login for the one operation that follows (CKU_CONTEXT_SPECIFIC, for CKA_ALWAYS_AUTHENTICATE keys).
    public static let contextSpecific = Self(rawValue: 2)
}

/// CKA_CERTIFICATE_CATEGORY values.
public struct CertificateCategory: RawRepresentable, Hashable, Sendable {
    /// The value as Cryptoki passes it.
    public let rawValue: UInt
    /// Any value, including vendor-defined ones.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// No category given.
    public static let unspecified = Self(rawValue: 0)
    /// The token user's own certificate.
    public static let tokenUser = Self(rawValue: 1)
    /// A CA certificate.
    public static let authority = Self(rawValue: 2)
    /// Someone else's certificate.
    public static let otherEntity = Self(rawValue: 3)
}
