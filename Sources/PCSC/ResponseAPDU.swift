/// A card's answer to one command: data followed by the two status bytes SW1 SW2.
public struct ResponseAPDU: Sendable, Hashable {
    /// The response data, without the status word.
    public let data: [UInt8]
    /// SW1 SW2 as one number (0x9000 is success).
    public let statusWord: UInt16

    /// Splits a raw response; nil when it is shorter than the two status bytes.
    public init?(_ raw: [UInt8]) {
        guard raw.count >= 2 else { return nil }
        data = Array(raw.dropLast(2))
        statusWord = UInt16(raw[raw.count - 2]) << 8 | UInt16(raw[raw.count - 1])
    }

    /// True for SW 9000.
    public var isSuccess: Bool { statusWord == 0x9000 }
}
