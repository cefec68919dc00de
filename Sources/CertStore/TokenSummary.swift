internal import PKCS11

/// What `certbridge tokens` shows for one token.
public struct TokenSummary: Sendable, Codable, Hashable {
    /// A PKCS#11 URI naming the token.
    public var uri: String
    /// The token label.
    public var label: String
    /// The token manufacturer.
    public var manufacturer: String
    /// The token model.
    public var model: String
    /// The token serial number.
    public var serial: String
    /// The module's path.
    public var module: String
    /// The slot id (it may change between runs: name tokens by label).
    public var slot: UInt
    /// The slot description, e.g. the reader name.
    public var slotDescription: String
    /// `ok`, `count-low`, `final-try`, `locked` or `not-initialized`.
    public var pinState: String
    /// The token flags as words, e.g. `login-required`.
    public var flags: [String]

    /// The summary of a token as it reports itself now.
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
        pinState =
            info.flags.contains(.userPINLocked)
            ? "locked"
            : info.flags.contains(.userPINFinalTry)
                ? "final-try"
                : info.flags.contains(.userPINCountLow)
                    ? "count-low"
                    : !info.flags.contains(.userPINInitialized)
                        ? "not-initialized"
                        : "ok"
    }
}

extension Store {
    /// Every token present, for `certbridge tokens`.
    /// An interrupted import is looked at first (Store+Recovery.swift): without a login only
    /// one that wrote nothing private can be rolled back; otherwise the note says it waits.
    public func tokenSummaries() -> [TokenSummary] {
        let found = tokens()
        for token in found where token.info.flags.contains(.tokenInitialized) { recoverInterruptedWrites(on: token) }
        return found.map(TokenSummary.init)
    }
}
