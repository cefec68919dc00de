/// A card's Answer To Reset: the bytes a card sends when powered, which name its kind.
public struct ATR: Sendable, Hashable, CustomStringConvertible {
    /// The ATR as the reader received it.
    public let bytes: [UInt8]

    /// An ATR from its bytes.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses hex with or without separators (`3B:8C:80…`, `3b 8c 80…`, `3B8C80…`).
    public init?(hex: String) {
        let digits = hex.filter { $0.isHexDigit }
        guard digits.count % 2 == 0,
            digits.count == hex.filter({ !" :-".contains($0) }).count
        else { return nil }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.bytes = bytes
    }

    /// Upper-case hex without separators, as `pcsc_scan` and ATR tables print it.
    public var hex: String {
        bytes.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return byte < 0x10 ? "0" + digits : digits
        }.joined()
    }

    /// The card's kind when the ATR is one CertBridge knows (`KnownCards`), else nil.
    public var cardName: String? { KnownCards.name(for: self) }

    /// The hex form.
    public var description: String { hex }
}
