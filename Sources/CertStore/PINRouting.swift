public import PKCS11

#if canImport(Glibc)
    import Glibc
#endif

/// Which PIN goes to which token. A PIN source is for the token the command names (`--token`,
/// or the token in the object's URI), never for another: a wrong PIN costs a try on a card, and
/// one token's PIN tried on the next is a wrong PIN there. A token a search meets without having
/// been told about it is logged in to only after asking on the terminal with its name.
public struct PINRouting: Sendable {
    /// The token the command names, when it names exactly one.
    public let named: Token?
    /// Where the named token's PIN comes from.
    public let source: SecretSource
    /// Whether a person is at a terminal to ask about the other tokens.
    public let terminal: Bool

    /// The routing for a named token (nil: none) and its PIN source.
    public init(named: Token?, source: SecretSource, terminal: Bool) {
        self.named = named
        self.source = source
        self.terminal = terminal
    }

    /// The provider the store calls when a token wants a login. For the named token it reads
    /// `source`. For any other it asks on the terminal, naming the token, where an empty answer
    /// skips it; without a terminal it skips it. A skip is a `usage` error naming the token,
    /// which a search over several tokens reports and steps past.
    public var provider: Store.PINProvider {
        let routing = self
        return { token throws(StoreError) in
            if let named = routing.named, named.slot == token.slot {
                return try routing.source.read(prompt: "PIN for token \"\(token.info.label)\": ")
            }
            guard routing.terminal else { throw PINRouting.skipped(token) }
            let pin = try SecretSource.tty.read(
                prompt:
                    "PIN for token \"\(token.info.label)\" (\(token.uri.tokenPart); not named on the command line; Enter skips it): ",
                allowEmpty: true)
            guard !pin.isEmpty else { throw StoreError(.usage, "\"\(token.info.label)\" (skipped at the prompt)") }
            return pin
        }
    }

    /// The sentence for a token skipped because nothing named it and no one could be asked.
    static func skipped(_ token: Token) -> StoreError {
        var uri = token.uri
        uri.manufacturer = nil
        uri.model = nil
        return StoreError(
            .usage,
            "\"\(token.info.label)\" (no PIN is given for it: the PIN source is for the token the command names; "
                + "name it with --token '\(uri)', or give it its own with '\(uri)?pin-source=file:PATH')")
    }
}

extension Store {
    /// The one initialized token a URI names (nil: the only token present), or nil when it
    /// matches none or several: a PIN source then belongs to no token in particular.
    public func namedToken(_ uri: PKCS11URI?) -> Token? {
        let matches = tokens(matching: uri).filter { $0.info.flags.contains(.tokenInitialized) }
        return matches.count == 1 ? matches[0] : nil
    }

    /// Opens a session on each token, logged in where the token wants it. In a `search` (the
    /// command named no single token), one whose PIN is not given (or is refused, or locked)
    /// is skipped and returned with why, so one token cannot hide the others; otherwise the
    /// failure is thrown.
    func searchSessions(_ tokens: [Token], readWrite: Bool = false, pin: PINProvider?, search: Bool) throws(StoreError)
        -> (sessions: [(Token, Session)], skipped: [StoreError])
    {
        var sessions: [(Token, Session)] = []
        var skipped: [StoreError] = []
        for token in tokens {
            do {
                sessions.append((token, try session(on: token, readWrite: readWrite, pin: pin)))
            } catch  where search && Self.skippable.contains(error.code) {
                skipped.append(error)
            }
        }
        return (sessions, skipped)
    }

    /// The login outcomes that make a search step past a token.
    static let skippable: [StoreError.Code] = [.wrongSecret, .locked, .usage]
}

extension [StoreError] {
    /// "not searched: …" for the tokens a search stepped past, or nil when there were none.
    public var notSearched: String? {
        isEmpty ? nil : "not searched: " + map(\.reason).joined(separator: "; ")
    }

    /// The exit code a search's skips give: a refused or locked PIN says so (4, 6); a token
    /// only passed over for want of its PIN is a usage matter (2).
    public var searchCode: StoreError.Code {
        first { $0.code == .locked }?.code ?? first { $0.code == .wrongSecret }?.code ?? first?.code ?? .failed
    }
}
