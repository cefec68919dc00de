internal import CPCSC
import Synchronization

/// A connection to the card in one reader (an SCARDHANDLE from `SCardConnect`).
///
/// Keeps its `Context` alive. `SCardDisconnect` (leaving the card as it is) runs in `deinit`
/// unless `disconnect(_:)` ran first.
///
/// Sendable: pcsc-lite serialises calls on one handle; the only Swift state, whether the
/// connection is still open, is behind a lock.
public final class Card: @unchecked Sendable {
    /// The context the connection was made on; held so it outlives the connection.
    public let context: Context
    /// The reader the card is in.
    public let reader: String
    /// The protocol pcscd negotiated (T=0 or T=1).
    public let activeProtocol: CardProtocols
    private let handle: SCARDHANDLE
    private let isConnected = Mutex(true)

    init(context: Context, handle: SCARDHANDLE, reader: String, activeProtocol: CardProtocols) {
        self.context = context
        self.handle = handle
        self.reader = reader
        self.activeProtocol = activeProtocol
    }

    deinit {
        if isConnected.withLock({ $0 }) {
            SCardDisconnect(handle, DWORD(SCARD_LEAVE_CARD))
        }
    }

    /// Sends one command APDU and returns the card's response with its status word
    /// (`SCardTransmit`). Does not follow `61xx` with GET RESPONSE: the caller decides.
    /// Throws `PCSCError.removedCard` when the card was pulled since `connect`.
    public func transmit(_ command: [UInt8]) throws(PCSCError) -> ResponseAPDU {
        // Room for the largest extended-length response (65,536 bytes + SW1 SW2).
        var received = [UInt8](repeating: 0, count: 65_538)
        var receivedLength = DWORD(received.count)
        var sendPCI = SCARD_IO_REQUEST(
            dwProtocol: numericCast(activeProtocol.rawValue),
            cbPciLength: numericCast(MemoryLayout<SCARD_IO_REQUEST>.size))
        try scardCall("SCardTransmit") {
            SCardTransmit(
                handle, &sendPCI, command, DWORD(command.count), nil, &received,
                &receivedLength)
        }
        guard let response = ResponseAPDU(Array(received.prefix(Int(receivedLength)))) else {
            // A card must end every answer with SW1 SW2; less than that is a broken exchange.
            throw PCSCError(code: 0x8010_002F, function: "SCardTransmit")  // SCARD_E_COMM_DATA_LOST
        }
        return response
    }

    /// Runs `body` inside a card transaction (`SCardBeginTransaction` / `SCardEndTransaction`),
    /// so no other program's APDUs come between this connection's.
    public func withTransaction<R>(_ body: () throws -> R) throws -> R {
        try scardCall("SCardBeginTransaction") { SCardBeginTransaction(handle) }
        defer { SCardEndTransaction(handle, DWORD(SCARD_LEAVE_CARD)) }
        return try body()
    }

    /// The card's current ATR and whether it is still there (`SCardStatus`).
    public func status() throws(PCSCError) -> ReaderState {
        var readerLength: DWORD = 0
        var state: DWORD = 0
        var proto: DWORD = 0
        var atr = [UInt8](repeating: 0, count: Int(MAX_ATR_SIZE))
        var atrLength = DWORD(atr.count)
        try scardCall("SCardStatus") {
            SCardStatus(handle, nil, &readerLength, &state, &proto, &atr, &atrLength)
        }
        // SCardStatus reports SCARD_PRESENT/SCARD_POWERED etc. (not SCARD_STATE_*): a connected,
        // answering card is by definition present.
        return ReaderState(
            reader: reader, flags: 0x0020 | 0x0100,
            atr: ATR(Array(atr.prefix(Int(atrLength)))))
    }

    /// Ends the connection (`SCardDisconnect`) and tells the reader what to do with the card.
    public func disconnect(_ disposition: Disposition = .leave) throws(PCSCError) {
        let wasConnected = isConnected.withLock { connected in
            defer { connected = false }
            return connected
        }
        guard wasConnected else { return }
        try scardCall("SCardDisconnect") { SCardDisconnect(handle, disposition.rawValue) }
    }
}
