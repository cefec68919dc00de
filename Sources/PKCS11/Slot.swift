internal import CPKCS11

/// A slot of a module: a reader, or a place a token could be.
public struct Slot: Sendable, Hashable {
    public let module: Module
    public let id: UInt

    public static func == (lhs: Slot, rhs: Slot) -> Bool { lhs.module === rhs.module && lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(module))
        hasher.combine(id)
    }

    /// C_GetSlotInfo.
    public func info() throws(PKCS11Error) -> SlotInfo {
        var info = CK_SLOT_INFO()
        try check("C_GetSlotInfo", module.functions.pointee.C_GetSlotInfo?(id, &info))
        return SlotInfo(
            description: paddedString(info.slotDescription),
            manufacturer: paddedString(info.manufacturerID),
            tokenPresent: info.flags & CK_FLAGS(CKF_TOKEN_PRESENT) != 0,
            removableDevice: info.flags & CK_FLAGS(CKF_REMOVABLE_DEVICE) != 0,
            hardwareSlot: info.flags & CK_FLAGS(CKF_HW_SLOT) != 0)
    }

    /// The token in this slot (C_GetTokenInfo); CKR_TOKEN_NOT_PRESENT when there is none.
    public func token() throws(PKCS11Error) -> Token {
        var info = CK_TOKEN_INFO()
        try check("C_GetTokenInfo", module.functions.pointee.C_GetTokenInfo?(id, &info))
        return Token(slot: self, info: TokenInfo(info))
    }

    /// Initializes (or re-initializes, erasing it) the token in this slot (C_InitToken).
    public func initializeToken(label: String, soPIN: borrowing PIN) throws(PKCS11Error) {
        var field = paddedField(label, length: 32)
        try soPIN.withUnsafeBytes { (pin) throws(PKCS11Error) in
            try check("C_InitToken", module.functions.pointee.C_InitToken?(
                id, UnsafeMutablePointer(mutating: pin.baseAddress), CK_ULONG(pin.count), &field))
        }
    }

    /// The mechanisms the token offers (C_GetMechanismList).
    public func mechanisms() throws(PKCS11Error) -> [MechanismType] { try module.mechanisms(slot: id) }
}

/// CK_SLOT_INFO.
public struct SlotInfo: Sendable, Hashable, Codable {
    public let description: String
    public let manufacturer: String
    public let tokenPresent: Bool
    public let removableDevice: Bool
    public let hardwareSlot: Bool
}

/// A token: the slot it sits in and what it says about itself.
public struct Token: Sendable {
    public let slot: Slot
    public let info: TokenInfo

    /// Opens a session (C_OpenSession); read-write when the caller will create or destroy objects.
    public func openSession(readWrite: Bool = false) throws(PKCS11Error) -> Session {
        try Session(slot: slot, readWrite: readWrite)
    }

    /// The same token read again, e.g. to see PIN counters after a failed login.
    public func refreshed() throws(PKCS11Error) -> Token { try slot.token() }
}

/// CK_TOKEN_INFO flags.
public struct TokenFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let rng = Self(rawValue: 1 << 0)
    public static let writeProtected = Self(rawValue: 1 << 1)
    public static let loginRequired = Self(rawValue: 1 << 2)
    public static let userPINInitialized = Self(rawValue: 1 << 3)
    public static let protectedAuthenticationPath = Self(rawValue: 1 << 8)
    public static let tokenInitialized = Self(rawValue: 1 << 10)
    public static let userPINCountLow = Self(rawValue: 1 << 16)
    public static let userPINFinalTry = Self(rawValue: 1 << 17)
    public static let userPINLocked = Self(rawValue: 1 << 18)
    public static let userPINToBeChanged = Self(rawValue: 1 << 19)
    public static let soPINCountLow = Self(rawValue: 1 << 20)
    public static let soPINFinalTry = Self(rawValue: 1 << 21)
    public static let soPINLocked = Self(rawValue: 1 << 22)
    public static let soPINToBeChanged = Self(rawValue: 1 << 23)

    /// Each set flag by its spec name without the CKF_ prefix, lower-cased with dashes
    /// (`user-pin-locked`), for people and JSON.
    public var names: [String] {
        let table: [(TokenFlags, String)] = [
            (.rng, "rng"), (.writeProtected, "write-protected"), (.loginRequired, "login-required"),
            (.userPINInitialized, "user-pin-initialized"), (.protectedAuthenticationPath, "protected-authentication-path"),
            (.tokenInitialized, "token-initialized"), (.userPINCountLow, "user-pin-count-low"),
            (.userPINFinalTry, "user-pin-final-try"), (.userPINLocked, "user-pin-locked"),
            (.userPINToBeChanged, "user-pin-to-be-changed"), (.soPINCountLow, "so-pin-count-low"),
            (.soPINFinalTry, "so-pin-final-try"), (.soPINLocked, "so-pin-locked"),
            (.soPINToBeChanged, "so-pin-to-be-changed"),
        ]
        return table.filter { contains($0.0) }.map(\.1)
    }
}

/// CK_TOKEN_INFO, as text and flags.
public struct TokenInfo: Sendable, Hashable {
    public let label: String
    public let manufacturer: String
    public let model: String
    public let serialNumber: String
    public let flags: TokenFlags
    public let minPINLength: UInt
    public let maxPINLength: UInt

    init(_ info: CK_TOKEN_INFO) {
        label = paddedString(info.label)
        manufacturer = paddedString(info.manufacturerID)
        model = paddedString(info.model)
        serialNumber = paddedString(info.serialNumber)
        flags = TokenFlags(rawValue: UInt(info.flags))
        minPINLength = UInt(info.ulMinPinLen)
        maxPINLength = UInt(info.ulMaxPinLen)
    }
}
