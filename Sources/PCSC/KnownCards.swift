/// The ATRs CertBridge can name. Small on purpose: the tokens the project is tested with. Other
/// cards are still listed, by ATR only.
public enum KnownCards {
    /// ATR (upper-case hex) → the card's name.
    public static let names: [String: String] = [
        // Yubico's published ATRs (the same values libykpiv matches).
        "3BFC1300008131FE15597562696B65794E454F7233E1": "YubiKey NEO",
        "3B8C8001597562696B65794E454F723358": "YubiKey NEO (NFC)",
        "3BF81300008131FE15597562696B657934D4": "YubiKey 4",
        "3BF81300008131FE1501597562694B6579C1": "YubiKey 5",
        "3BFD1300008131FE158073C021C057597562694B657940": "YubiKey 5",
        "3B8D80018073C021C057597562694B6579F9": "YubiKey 5 (NFC)",
        // The virtual PIV card of CertBridge's tests (Tests/VirtualCard/card.py).
        "3B8C8001805A43657274427269646765C8": "CertBridge virtual PIV card",
    ]

    /// The name of the card with this ATR, if known.
    public static func name(for atr: ATR) -> String? {
        names[atr.hex]
    }
}
