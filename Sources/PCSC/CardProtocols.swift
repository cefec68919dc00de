internal import CPCSC

/// Transmission protocols a connection may use or uses (SCARD_PROTOCOL_*).
public struct CardProtocols: OptionSet, Sendable, Hashable {
    /// The SCARD_PROTOCOL_* bits.
    public let rawValue: UInt32
    /// Protocols from SCARD_PROTOCOL_* bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// T=0, character-oriented.
    public static let t0 = CardProtocols(rawValue: UInt32(SCARD_PROTOCOL_T0))
    /// T=1, block-oriented (PIV tokens, YubiKeys).
    public static let t1 = CardProtocols(rawValue: UInt32(SCARD_PROTOCOL_T1))
    /// Whichever of T=0 and T=1 the card offers.
    public static let any: CardProtocols = [.t0, .t1]
}
