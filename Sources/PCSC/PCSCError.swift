/// An error from PC/SC: the SCARD_E_* / SCARD_W_* / SCARD_F_* code, its name, the SCard* function
/// that returned it, and one sentence a person can act on.
///
/// Errors are equal when their codes are, so tests and callers can match them against the
/// constants below (`catch let e as PCSCError where e == .noService`).
public struct PCSCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The status code as pcsc-lite returns it (for example 0x8010001D).
    public let code: UInt32
    /// The SCard* function that failed, empty for the constants below.
    public let function: String
    /// The file of the failing call (`#fileID`).
    public let fileID: String
    /// The line of the failing call.
    public let line: Int

    /// Wraps a status code returned by `function`.
    public init(code: UInt32, function: String = "", fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.function = function
        self.fileID = fileID
        self.line = line
    }

    /// The constant's name, such as `SCARD_E_NO_SERVICE`, or `SCARD_0x…` for a code the table
    /// does not know.
    public var name: String {
        PCSCError.table[code]?.name ?? "SCARD_0x" + String(code, radix: 16, uppercase: true)
    }

    /// One sentence for a person: what happened and, where there is one, what to do.
    public var reason: String {
        PCSCError.table[code]?.reason ?? "The smart-card service returned an unknown error."
    }

    /// `SCardListReaders: SCARD_E_NO_SERVICE (0x8010001D): pcscd is not running…`
    public var description: String {
        let hex = "0x" + String(code, radix: 16, uppercase: true)
        let prefix = function.isEmpty ? "" : function + ": "
        return "\(prefix)\(name) (\(hex)): \(reason)"
    }

    /// Equal by code: the function and place do not matter when matching errors.
    public static func == (lhs: PCSCError, rhs: PCSCError) -> Bool { lhs.code == rhs.code }
    /// Hashes the code only, to agree with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

extension PCSCError {
    /// SCARD_E_NO_SERVICE: pcscd is not running (or not reachable on its socket).
    public static let noService = PCSCError(code: 0x8010_001D)
    /// SCARD_E_NO_READERS_AVAILABLE: pcscd runs but has no reader.
    public static let noReadersAvailable = PCSCError(code: 0x8010_002E)
    /// SCARD_W_REMOVED_CARD: the card was pulled; its handle is useless now.
    public static let removedCard = PCSCError(code: 0x8010_0069)
    /// SCARD_W_RESET_CARD: someone reset the card; reconnect to go on.
    public static let resetCard = PCSCError(code: 0x8010_0068)
    /// SCARD_E_NO_SMARTCARD: the reader is empty.
    public static let noSmartcard = PCSCError(code: 0x8010_000C)
    /// SCARD_E_UNKNOWN_READER: no reader of that name.
    public static let unknownReader = PCSCError(code: 0x8010_0009)
    /// SCARD_E_SHARING_VIOLATION: another program holds the card exclusively.
    public static let sharingViolation = PCSCError(code: 0x8010_000B)
    /// SCARD_E_TIMEOUT: nothing changed before the timeout.
    public static let timeout = PCSCError(code: 0x8010_000A)
    /// SCARD_E_CANCELLED: the wait was cancelled (SCardCancel).
    public static let cancelled = PCSCError(code: 0x8010_0002)
    /// SCARD_E_NO_SERVICE's sibling for a restarted pcscd: SCARD_E_SERVICE_STOPPED.
    public static let serviceStopped = PCSCError(code: 0x8010_001E)
    /// SCARD_F_COMM_ERROR: the connection to pcscd broke, typically because pcscd stopped.
    public static let commError = PCSCError(code: 0x8010_0013)
    /// SCARD_W_UNRESPONSIVE_CARD: the card does not answer to reset.
    public static let unresponsiveCard = PCSCError(code: 0x8010_0066)
}
