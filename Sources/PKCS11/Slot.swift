internal import CPKCS11

/// A slot of a module: a reader, or a place a token could be.
public struct Slot: Sendable, Hashable {
    /// The module the slot belongs to; kept loaded.
    public let module: Module
    /// The CK_SLOT_ID (it may change after a token is initialized).
    public let id: UInt

    /// Same module and slot id.
    public static func == (lhs: Slot, rhs: Slot) -> Bool { lhs.module === rhs.module && lhs.id == rhs.id }
    /// Hashes module identity and slot id.
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
            try check(
                "C_InitToken",
                module.functions.pointee.C_InitToken?(
                    id, UnsafeMutablePointer(mutating: pin.baseAddress), CK_ULONG(pin.count), &field))
        }
    }

    /// The mechanisms the token offers (C_GetMechanismList).
    public func mechanisms() throws(PKCS11Error) -> [MechanismType] { try module.mechanisms(slot: id) }
}

/// CK_SLOT_INFO.
public struct SlotInfo: Sendable, Hashable, Codable {
    /// CK_SLOT_INFO.slotDescription, e.g. a reader name.
    public let description: String
    /// CK_SLOT_INFO.manufacturerID.
    public let manufacturer: String
    /// CKF_TOKEN_PRESENT.
    public let tokenPresent: Bool
    /// CKF_REMOVABLE_DEVICE.
    public let removableDevice: Bool
    /// CKF_HW_SLOT.
    public let hardwareSlot: Bool
}

/// A token: the slot it sits in and what it says about itself.
public struct Token: Sendable {
    /// The slot holding the token.
    public let slot: Slot
    /// CK_TOKEN_INFO as read when the token was found.
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
    /// The CKF_* bits.
    public let rawValue: UInt
    /// Any CKF_* bits.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// Each set flag by its spec name without the CKF_ prefix, lower-cased with dashes
    /// (`user-pin-locked`), for people and JSON.
    public var names: [String] {
        let table: [(TokenFlags, String)] = [
            (.rng, "rng"), (.writeProtected, "write-protected"), (.loginRequired, "login-required"),
            (.userPINInitialized, "user-pin-initialized"),
            (.protectedAuthenticationPath, "protected-authentication-path"),
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
    /// The token label, trailing blanks trimmed.
    public let label: String
    /// CK_TOKEN_INFO.manufacturerID.
    public let manufacturer: String
    /// CK_TOKEN_INFO.model.
    public let model: String
    /// CK_TOKEN_INFO.serialNumber.
    public let serialNumber: String
    /// CK_TOKEN_INFO.flags.
    public let flags: TokenFlags
    /// CK_TOKEN_INFO.ulMinPinLen.
    public let minPINLength: UInt
    /// CK_TOKEN_INFO.ulMaxPinLen.
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
