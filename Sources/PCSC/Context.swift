internal import CPCSC

/// A connection to the PC/SC service (pcscd): lists readers, reads their state, connects to cards.
///
/// `SCardEstablishContext` on creation, `SCardReleaseContext` in `deinit`. pcsc-lite reaches pcscd
/// through the socket named by `PCSCLITE_CSOCK_NAME` (default `/run/pcscd/pcscd.comm`) and reads
/// that variable once per process.
///
/// pcsc-lite serialises the calls on one context with its own lock, so a context may be shared
/// between tasks; a blocking `SCardGetStatusChange` holds that lock, which is why `ReaderEvents`
/// waits on a context of its own.
public final class Context: @unchecked Sendable {
    let handle: SCARDCONTEXT

    /// Establishes a context (`SCardEstablishContext`, system scope).
    /// Throws `PCSCError.noService` when pcscd is not running.
    public init() throws(PCSCError) {
        var handle: SCARDCONTEXT = 0
        try scardCall("SCardEstablishContext") {
            SCardEstablishContext(DWORD(SCARD_SCOPE_SYSTEM), nil, nil, &handle)
        }
        self.handle = handle
    }

    deinit {
        SCardReleaseContext(handle)
    }

    /// Whether pcscd still knows this context (`SCardIsValidContext`); false after pcscd restarted.
    public var isValid: Bool {
        SCardIsValidContext(handle) == 0
    }

    /// The names of the readers pcscd knows (`SCardListReaders`); empty when there are none.
    public func readers() throws(PCSCError) -> [String] {
        var length: DWORD = 0
        do {
            try scardCall("SCardListReaders") { SCardListReaders(handle, nil, nil, &length) }
        } catch  where error == .noReadersAvailable {
            return []
        }
        var buffer = [CChar](repeating: 0, count: Int(length))
        do {
            try scardCall("SCardListReaders") { SCardListReaders(handle, nil, &buffer, &length) }
        } catch  where error == .noReadersAvailable {
            return []  // the last reader left between the two calls
        }
        return Self.splitMultiString(buffer)
    }

    /// The state of every reader: card present or not, ATR, in use (`SCardGetStatusChange` with
    /// a zero timeout, which answers at once).
    public func states() throws(PCSCError) -> [ReaderState] {
        let names = try readers()
        guard !names.isEmpty else { return [] }
        return try Self.currentStates(of: names, context: handle)
    }

    /// The state of one reader. Throws `PCSCError.unknownReader` for a name pcscd does not know.
    public func state(of reader: String) throws(PCSCError) -> ReaderState {
        try Self.currentStates(of: [reader], context: handle)[0]
    }

    /// Connects to the card in `reader` (`SCardConnect`). Throws `PCSCError.noSmartcard` when the
    /// reader is empty and `PCSCError.sharingViolation` when another program holds the card.
    public func connect(
        to reader: String, mode: ShareMode = .shared,
        protocols: CardProtocols = .any
    ) throws(PCSCError) -> Card {
        var card: SCARDHANDLE = 0
        var active: DWORD = 0
        try scardCall("SCardConnect") {
            SCardConnect(handle, reader, mode.rawValue, DWORD(protocols.rawValue), &card, &active)
        }
        return Card(
            context: self, handle: card, reader: reader,
            activeProtocol: CardProtocols(rawValue: UInt32(truncatingIfNeeded: active)))
    }

    /// Makes a blocking wait on this context return with `PCSCError.cancelled` (`SCardCancel`).
    public func cancel() {
        SCardCancel(handle)
    }

    // MARK: - Helpers shared with ReaderEvents

    /// pcsc-lite's reader list is a "multi-string": names separated by NUL, ended by two NULs.
    static func splitMultiString(_ buffer: [CChar]) -> [String] {
        var names: [String] = []
        var current: [UInt8] = []
        for char in buffer {
            if char == 0 {
                if current.isEmpty { break }
                names.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(UInt8(bitPattern: char))
            }
        }
        return names
    }

    static func currentStates(of names: [String], context: SCARDCONTEXT) throws(PCSCError)
        -> [ReaderState]
    {
        let raw = ReaderStateArray(names: names)
        try raw.wait(context: context, timeout: 0)
        return raw.states
    }
}
