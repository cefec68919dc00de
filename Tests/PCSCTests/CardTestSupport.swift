import Foundation
import PCSC
import TestSupport

/// APDUs and helpers the card tests share.
enum PIV {
    /// SELECT the PIV application by its short AID (SP 800-73-4 part 2, 3.1.1).
    static let select: [UInt8] = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08]

    /// VERIFY the PIV PIN, padded with FF to 8 bytes.
    static func verify(_ pin: String) -> [UInt8] {
        let digits = Array(pin.utf8)
        return [0x00, 0x20, 0x00, 0x80, 0x08] + digits
            + [UInt8](repeating: 0xFF, count: 8 - digits.count)
    }

    /// GENERAL AUTHENTICATE: sign `challenge` with the key in `slot` (algorithm byte `algorithm`).
    /// Sent as an extended APDU when the template does not fit a short one.
    static func sign(_ challenge: [UInt8], algorithm: UInt8, slot: UInt8) -> [UInt8] {
        let inner = [0x82, 0x00] + tlv(0x81, challenge)
        let template = tlv(0x7C, inner)
        if template.count <= 255 {
            return [0x00, 0x87, algorithm, slot, UInt8(template.count)] + template + [0x00]
        }
        return [
            0x00, 0x87, algorithm, slot, 0x00, UInt8(template.count >> 8),
            UInt8(template.count & 0xFF),
        ] + template + [0x00, 0x00]
    }

    static func tlv(_ tag: UInt8, _ value: [UInt8]) -> [UInt8] {
        let length: [UInt8]
        switch value.count {
        case ..<0x80: length = [UInt8(value.count)]
        case ..<0x100: length = [0x81, UInt8(value.count)]
        default: length = [0x82, UInt8(value.count >> 8), UInt8(value.count & 0xFF)]
        }
        return [tag] + length + value
    }
}

/// Waits (polling) until `condition` holds, up to `seconds`.
func eventually(_ seconds: Double = 10, _ condition: @Sendable () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(nanoseconds: 50_000_000)
    }
    return await condition()
}

/// Collects a ReaderEvents sequence in the background so tests can wait for events with a
/// deadline instead of hanging on `next()`.
actor EventLog {
    private(set) var events: [ReaderEvent] = []
    private(set) var finished = false
    private(set) var failure: (any Error)?

    func append(_ event: ReaderEvent) { events.append(event) }
    func finish(_ error: (any Error)?) {
        finished = true
        failure = error
    }
    func contains(_ event: ReaderEvent) -> Bool { events.contains(event) }
    func index(of event: ReaderEvent, after start: Int = 0) -> Int? {
        events.indices.first { $0 >= start && events[$0] == event }
    }

    /// A task that records every `ReaderEvents` event (the current state first) into `log`
    /// until the sequence ends, then records how it ended; cancel it when done.
    static func watch(into log: EventLog) -> Task<Void, Never> {
        Task {
            do {
                for try await event in ReaderEvents(includingCurrentState: true) {
                    await log.append(event)
                }
                await log.finish(nil)
            } catch {
                await log.finish(error)
            }
        }
    }
}

extension CardRig {
    /// yubico-piv-tool against the rig's reader, with the default management key.
    func pivTool(_ arguments: [String], input: Data? = nil) async throws -> CardCommandResult {
        try await run("yubico-piv-tool", ["--reader", "CertBridge"] + arguments, input: input)
    }
}
