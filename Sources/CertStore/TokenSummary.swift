import PKCS11

/// What `certbridge tokens` shows for one token.
public struct TokenSummary: Sendable, Codable, Hashable {
    public var uri: String
    public var label: String
    public var manufacturer: String
    public var model: String
    public var serial: String
    public var module: String
    public var slot: UInt
    public var slotDescription: String
    /// `ok`, `count-low`, `final-try`, `locked` or `not-initialized`.
    public var pinState: String
    public var flags: [String]

    public init(_ token: Token) {
        let info = token.info
        uri = token.uri.description
        label = info.label
        manufacturer = info.manufacturer
        model = info.model
        serial = info.serialNumber
        module = token.slot.module.path
        slot = token.slot.id
        slotDescription = (try? token.slot.info().description) ?? ""
        flags = info.flags.names
        pinState = info.flags.contains(.userPINLocked) ? "locked"
            : info.flags.contains(.userPINFinalTry) ? "final-try"
            : info.flags.contains(.userPINCountLow) ? "count-low"
            : !info.flags.contains(.userPINInitialized) ? "not-initialized"
            : "ok"
    }
}

extension Store {
    /// Every token present, for `certbridge tokens`.
    public func tokenSummaries() -> [TokenSummary] { tokens().map(TokenSummary.init) }
}
