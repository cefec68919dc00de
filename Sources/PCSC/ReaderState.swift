/// What pcscd says about one reader at one moment.
public struct ReaderState: Sendable, Hashable {
    /// The reader's name, as `Context.readers()` lists it.
    public let reader: String
    /// The SCARD_STATE_* bits of `SCardGetStatusChange`, for what the properties below omit.
    public let flags: UInt32
    /// The card's ATR; empty when there is no card (or it is not powered yet).
    public let atr: ATR

    /// A state as `SCardGetStatusChange` reports it.
    public init(reader: String, flags: UInt32, atr: ATR) {
        self.reader = reader
        self.flags = flags
        self.atr = atr
    }

    /// A card is in the reader (SCARD_STATE_PRESENT).
    public var isCardPresent: Bool { flags & 0x0020 != 0 }
    /// Some program holds a connection to the card (SCARD_STATE_INUSE).
    public var isInUse: Bool { flags & 0x0100 != 0 }
    /// Some program holds the card exclusively (SCARD_STATE_EXCLUSIVE).
    public var isExclusive: Bool { flags & 0x0080 != 0 }
    /// The card does not answer (SCARD_STATE_MUTE).
    public var isMute: Bool { flags & 0x0200 != 0 }
    /// The reader went away or cannot be used (SCARD_STATE_UNKNOWN or SCARD_STATE_UNAVAILABLE).
    public var isUnavailable: Bool { flags & (0x0004 | 0x0008) != 0 }
    /// The card's name when its ATR is a known one.
    public var cardName: String? { isCardPresent ? atr.cardName : nil }
}
