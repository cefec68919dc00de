internal import CPCSC

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The SCARD_READERSTATE array `SCardGetStatusChange` reads and writes. Owns C copies of the
/// reader names (the structs point at them), freed in `deinit`.
final class ReaderStateArray {
    let names: [String]
    private var entries: [SCARD_READERSTATE]

    init(names: [String]) {
        self.names = names
        self.entries = names.map { name in
            var entry = SCARD_READERSTATE()
            entry.szReader = UnsafePointer(strdup(name))
            entry.dwCurrentState = DWORD(SCARD_STATE_UNAWARE)
            return entry
        }
    }

    deinit {
        for entry in entries {
            free(UnsafeMutablePointer(mutating: entry.szReader))
        }
    }

    /// `SCardGetStatusChange` over all entries: returns when some reader's state differs from the
    /// entry's current state, or after `timeout` milliseconds (`UInt32.max`: never).
    func wait(context: SCARDCONTEXT, timeout: UInt32) throws(PCSCError) {
        let count = DWORD(entries.count)
        try scardCall("SCardGetStatusChange") {
            entries.withUnsafeMutableBufferPointer { buffer in
                SCardGetStatusChange(context, DWORD(timeout), buffer.baseAddress, count)
            }
        }
    }

    /// Takes the last answer as the baseline of the next wait, so the next wait blocks until
    /// something changes again.
    func acknowledge() {
        for index in entries.indices {
            entries[index].dwCurrentState =
                entries[index].dwEventState
                & ~DWORD(SCARD_STATE_CHANGED)
        }
    }

    /// The reader states as of the last wait.
    var states: [ReaderState] {
        zip(names, entries).map { name, entry in
            ReaderState(
                reader: name, flags: UInt32(truncatingIfNeeded: entry.dwEventState),
                atr: Self.atr(of: entry))
        }
    }

    /// pcsc-lite counts card insertions and removals in the high 16 bits of the event state, so a
    /// pull and re-insert between two waits is still seen.
    func eventCounter(at index: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: entries[index].dwEventState >> 16) & 0xFFFF
    }

    private static func atr(of entry: SCARD_READERSTATE) -> ATR {
        let count = min(Int(entry.cbAtr), Int(MAX_ATR_SIZE))
        return withUnsafeBytes(of: entry.rgbAtr) { ATR(Array($0.prefix(count))) }
    }
}
