internal import CPCSC

/// What the reader does with the card when a connection ends or a transaction closes
/// (SCARD_LEAVE_CARD and friends).
public enum Disposition: Sendable {
    /// Leave it as it is: other programs keep its state (PIN verified, applet selected).
    case leave
    /// Reset it (warm reset): its security state is lost.
    case reset
    /// Power it down.
    case unpower
    /// Eject it, if the reader can.
    case eject

    var rawValue: DWORD {
        switch self {
        case .leave: DWORD(SCARD_LEAVE_CARD)
        case .reset: DWORD(SCARD_RESET_CARD)
        case .unpower: DWORD(SCARD_UNPOWER_CARD)
        case .eject: DWORD(SCARD_EJECT_CARD)
        }
    }
}
