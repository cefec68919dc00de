internal import CPCSC
import Glibc
import Synchronization

/// Reader and card changes as they happen, as an `AsyncSequence` of `ReaderEvent`.
///
/// Each iteration opens its own `Context` and waits in `SCardGetStatusChange` on a thread of its
/// own, over all readers plus pcsc-lite's `\\?PnP?\Notification` pseudo-reader (which changes when
/// readers come and go). Ending the iteration — `break`, or cancelling the task that iterates —
/// calls `SCardCancel`, which ends the wait at once and releases the context.
///
/// Iteration throws a `PCSCError` when pcscd is not running (`.noService`) or stops while watched
/// (pcsc-lite then reports `.commError`).
public struct ReaderEvents: AsyncSequence, Sendable {
    /// Each change is one event.
    public typealias Element = ReaderEvent

    /// With `includingCurrentState`, the sequence starts by reporting the readers and cards already
    /// there (`readerAdded`, then `cardInserted` for each card), so a watcher needs no separate
    /// listing and cannot miss a change between listing and watching.
    public let includingCurrentState: Bool

    /// A sequence that reports changes (and, if asked, the current state first).
    public init(includingCurrentState: Bool = false) {
        self.includingCurrentState = includingCurrentState
    }

    /// Starts watching: opens a context (`SCardEstablishContext`) and the watching thread.
    public func makeAsyncIterator() -> AsyncThrowingStream<ReaderEvent, any Error>.Iterator {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: ReaderEvent.self,
            throwing: (any Error).self)
        let monitor: StatusMonitor
        do {
            monitor = try StatusMonitor(
                includingCurrentState: includingCurrentState,
                continuation: continuation)
        } catch {
            continuation.finish(throwing: error)
            return stream.makeAsyncIterator()
        }
        continuation.onTermination = { _ in monitor.cancel() }
        // Finishing runs onTermination, which cancels the monitor (and releases its context).
        if let error = startDetachedThread(monitor.run) { continuation.finish(throwing: error) }
        return stream.makeAsyncIterator()
    }
}

/// The watching thread's state. Only `run()` (on the thread) touches the readers; `cancel()` may
/// come from any thread and only sets a flag and calls `SCardCancel`, which pcsc-lite allows.
final class StatusMonitor: @unchecked Sendable {
    private static let plugAndPlayReader = "\\\\?PnP?\\Notification"
    /// Re-list readers at least this often (ms), in case a PnP notification was coalesced away.
    private static let pollInterval: UInt32 = 2_000

    private let context: Context
    private let includingCurrentState: Bool
    private let continuation: AsyncThrowingStream<ReaderEvent, any Error>.Continuation
    private let cancelled = Atomic(false)

    init(
        includingCurrentState: Bool,
        continuation: AsyncThrowingStream<ReaderEvent, any Error>.Continuation
    ) throws {
        self.context = try Context()
        self.includingCurrentState = includingCurrentState
        self.continuation = continuation
    }

    func cancel() {
        cancelled.store(true, ordering: .sequentiallyConsistent)
        context.cancel()
    }

    private var isCancelled: Bool { cancelled.load(ordering: .sequentiallyConsistent) }

    func run() {
        do {
            try watch()
            continuation.finish()
        } catch let error where error == .cancelled {
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }

    /// What the last wait said about one reader.
    private struct Seen {
        var present: Bool
        var counter: UInt32
    }

    private func watch() throws(PCSCError) {
        var seen: [String: Seen] = [:]
        var first = true
        while !isCancelled {
            let readers = try context.readers()
            // Readers that came or went since the last round.
            for name in readers where seen[name] == nil {
                if !first || includingCurrentState { continuation.yield(.readerAdded(name)) }
                seen[name] = Seen(present: false, counter: 0)
            }
            for name in seen.keys where !readers.contains(name) {
                if seen[name]?.present == true { continuation.yield(.cardRemoved(reader: name)) }
                continuation.yield(.readerRemoved(name))
                seen[name] = nil
            }
            // One status round: answer at once (UNAWARE), then wait for the next change.
            let array = ReaderStateArray(names: readers + [Self.plugAndPlayReader])
            try array.wait(context: context.handle, timeout: 0)
            report(array, readers: readers, seen: &seen, announce: !first || includingCurrentState)
            first = false
            while !isCancelled {
                array.acknowledge()
                do {
                    try array.wait(context: context.handle, timeout: Self.pollInterval)
                } catch  where error == .timeout {
                    break  // re-list: a reader may have come without a PnP notification
                } catch  where error == .unknownReader || error == .readerUnavailable {
                    break  // a watched reader went away
                }
                report(array, readers: readers, seen: &seen, announce: true)
                let pnp = array.states[readers.count]
                if pnp.flags & UInt32(SCARD_STATE_CHANGED) != 0 { break }
            }
        }
    }

    private func report(
        _ array: ReaderStateArray, readers: [String], seen: inout [String: Seen],
        announce: Bool
    ) {
        let states = array.states
        for (index, name) in readers.enumerated() {
            let state = states[index]
            let present = state.isCardPresent && !state.isUnavailable
            let counter = array.eventCounter(at: index)
            let before = seen[name] ?? Seen(present: false, counter: counter)
            seen[name] = Seen(present: present, counter: counter)
            guard announce else { continue }
            if before.present && (!present || counter != before.counter) {
                continuation.yield(.cardRemoved(reader: name))
            }
            if present && (!before.present || counter != before.counter) {
                continuation.yield(.cardInserted(reader: name, atr: state.atr))
            }
        }
    }
}

extension PCSCError {
    /// SCARD_E_READER_UNAVAILABLE: the reader went away during a wait.
    static let readerUnavailable = PCSCError(code: 0x8010_0017)
}

/// Runs `body` on a new detached thread; nil, or the error when no thread could be started.
/// (Foundation's Thread, without Foundation.)
private func startDetachedThread(_ body: @escaping @Sendable () -> Void) -> PCSCError? {
    final class Start {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let start = Unmanaged.passRetained(Start(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { start in
            Unmanaged<Start>.fromOpaque(start!).takeRetainedValue().body()
            return nil
        }, start)
    guard result == 0 else {
        Unmanaged<Start>.fromOpaque(start).release()
        return PCSCError(code: 0x8010_0006, function: "pthread_create")  // SCARD_E_NO_MEMORY
    }
    pthread_detach(thread)
    return nil
}
