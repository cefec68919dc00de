import FoundationEssentials
import Glibc
import PCSC
internal import PKCS11

/// What `certbridge readers` shows for one PC/SC reader: the card in it, and the PKCS#11 tokens
/// (slots) that sit in it.
public struct ReaderSummary: Sendable, Codable, Hashable {
    /// One PKCS#11 slot in the reader, from one module.
    public struct TokenSlot: Sendable, Codable, Hashable {
        /// The module's path.
        public var module: String
        /// The slot's id in that module.
        public var slot: UInt
        /// The token's label, nil when the slot holds no token (no card, or one the module cannot read).
        public var token: String?
        /// The URI that names the token, nil without a token.
        public var uri: String?
    }

    /// The reader's name, as pcscd lists it.
    public var reader: String
    /// Whether a card is in the reader.
    public var cardPresent: Bool
    /// The card's ATR as upper-case hex; nil without a card.
    public var atr: String?
    /// The card's kind when its ATR is a known one.
    public var card: String?
    /// Some program holds a connection to the card.
    public var inUse: Bool
    /// The PKCS#11 slots of the loaded modules that sit in this reader.
    public var tokens: [TokenSlot]

    init(_ state: ReaderState) {
        reader = state.reader
        cardPresent = state.isCardPresent && !state.isUnavailable
        atr = cardPresent && !state.atr.bytes.isEmpty ? state.atr.hex : nil
        card = cardPresent ? state.cardName : nil
        inUse = state.isInUse
        tokens = []
    }
}

/// One line of `certbridge readers --watch`: a card or reader came or went.
public struct ReaderChange: Sendable, Codable, Hashable {
    /// `card-inserted`, `card-removed`, `reader-added` or `reader-removed`.
    public var event: String
    /// The reader's name.
    public var reader: String
    /// The inserted card's ATR (upper-case hex).
    public var atr: String?
    /// The inserted card's kind, when its ATR is a known one.
    public var card: String?

    init(_ event: ReaderEvent) {
        switch event {
        case .readerAdded(let name):
            self.event = "reader-added"
            reader = name
        case .readerRemoved(let name):
            self.event = "reader-removed"
            reader = name
        case .cardInserted(let name, let atr):
            self.event = "card-inserted"
            reader = name
            self.atr = atr.hex
            card = atr.cardName
        case .cardRemoved(let name):
            self.event = "card-removed"
            reader = name
        }
    }
}

extension Store {
    /// Every PC/SC reader pcscd knows, with its card (`SCardListReaders`, `SCardGetStatusChange`).
    /// Needs no PKCS#11 module; `tokens(in:)` adds the slots. Throws `notFound` when pcscd is not
    /// running.
    public static func readers() throws(StoreError) -> [ReaderSummary] {
        do throws(PCSCError) {
            return try Context().states().map(ReaderSummary.init)
        } catch {
            throw StoreError(error)
        }
    }

    /// The readers with the slots of the loaded modules that sit in them. OpenSC and ykcs11 name
    /// a slot after its reader (cut to the 64 characters of CK_SLOT_INFO), which is the match.
    public func tokens(in readers: [ReaderSummary]) -> [ReaderSummary] {
        var slots: [(description: String, slot: ReaderSummary.TokenSlot)] = []
        for module in modules {
            guard let moduleSlots = try? module.slots(tokenPresent: false) else { continue }
            for slot in moduleSlots {
                guard let info = try? slot.info() else { continue }
                let token = info.tokenPresent ? (try? slot.token()).map(Token.init) : nil
                slots.append(
                    (
                        info.description,
                        ReaderSummary.TokenSlot(
                            module: module.path, slot: slot.id, token: token?.info.label, uri: token?.uri.description)
                    ))
            }
        }
        return readers.map { reader in
            var reader = reader
            reader.tokens = slots.filter { Self.slot($0.description, isIn: reader.reader) }.map(\.slot)
            return reader
        }
    }

    /// Card and reader changes as they happen; with `includingCurrentState` it starts with the
    /// readers and cards present now. Ends with `notFound` when pcscd is not running or stops.
    public static func readerChanges(includingCurrentState: Bool = true) -> AsyncThrowingStream<ReaderChange, any Error>
    {
        let events = ReaderEvents(includingCurrentState: includingCurrentState)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await event in events { continuation.yield(ReaderChange(event)) }
                    continuation.finish()
                } catch let error as PCSCError {
                    continuation.finish(throwing: StoreError(error))
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Whether the card a token lives on has left its reader, looking for up to `seconds`: pcscd
    /// notices a pull on its next poll, so a write that just failed may come before the news.
    /// False when the token's reader is unknown to pcscd (not a card, or no pcscd).
    static func cardWasRemoved(from token: Token, within seconds: Double = 1.5) -> Bool {
        guard let description = try? token.slot.info().description else { return false }
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while true {
            guard let readers = try? Context().states() else { return false }
            guard let reader = readers.first(where: { slot(description, isIn: $0.reader) }) else { return false }
            if !reader.isCardPresent || reader.isUnavailable { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(100_000)
        }
    }

    /// Whether a slot description names this reader: equal, or the reader's name cut short, or
    /// the reader's name followed by what the module adds (an application's name).
    static func slot(_ description: String, isIn reader: String) -> Bool {
        let description = description.trimmingTrailingSpaces
        guard !description.isEmpty else { return false }
        return description == reader || reader.hasPrefix(description) && description.count >= 32
            || description.hasPrefix(reader)
    }
}

extension String {
    /// Without the trailing blanks CK_SLOT_INFO and CK_TOKEN_INFO pad their fixed fields with.
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

extension StoreError {
    /// Maps a PC/SC failure to the documented outcome: the service or the card is missing
    /// (exit 5), with a sentence that says which.
    init(_ error: PCSCError, file: String = #fileID, line: Int = #line) {
        switch error {
        case .noService, .serviceStopped:
            self.init(
                .notFound,
                "pcscd is not running: start it (systemctl start pcscd.socket, or pcscd as root) and try again",
                file: file, line: line)
        case .commError:
            self.init(
                .notFound, "pcscd stopped: the connection to the smart-card service broke", file: file, line: line)
        case .removedCard, .noSmartcard:
            self.init(.notFound, "the card was removed: \(error.reason)", file: file, line: line)
        case .unknownReader, .noReadersAvailable:
            self.init(.notFound, error.reason, file: file, line: line)
        default:
            self.init(.failed, "smart-card service: \(error)", file: file, line: line)
        }
    }
}
