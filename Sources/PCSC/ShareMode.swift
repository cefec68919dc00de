internal import CPCSC

/// How a connection shares the card with other programs (SCARD_SHARE_*).
public enum ShareMode: Sendable {
    /// Other programs may use the card too; use transactions for multi-APDU sequences.
    case shared
    /// No other program may connect while this connection lasts.
    case exclusive
    /// Talk to the reader, not the card (for reader control codes); works with no card present.
    case direct

    var rawValue: DWORD {
        switch self {
        case .shared: DWORD(SCARD_SHARE_SHARED)
        case .exclusive: DWORD(SCARD_SHARE_EXCLUSIVE)
        case .direct: DWORD(SCARD_SHARE_DIRECT)
        }
    }
}
