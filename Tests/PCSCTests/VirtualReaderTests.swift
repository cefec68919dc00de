import Foundation
import PCSC
import TestSupport
import Testing

/// PCSC against the real pcscd, vpcd and the virtual PIV card (Tests/VirtualCard).
@Suite("PC/SC with the virtual card", .serialized)
struct VirtualReaderTests {
    @Test("the virtual reader is listed with the card present, its ATR and its name")
    func listsReaderAndCard() async throws {
        try await CardRig.withRig { _ in
            let context = try Context()
            let readers = try context.readers()
            #expect(readers.contains(CardRig.readerName))
            let state = try context.state(of: CardRig.readerName)
            #expect(state.isCardPresent)
            #expect(state.atr.hex == CardRig.atrHex)
            #expect(state.cardName == "CertBridge virtual PIV card")
            let all = try context.states()
            #expect(all.contains(state))
        }
    }

    @Test("SELECT of the PIV application answers 9000 with its template")
    func selectPIV() async throws {
        try await CardRig.withRig { _ in
            let card = try Context().connect(to: CardRig.readerName)
            #expect(card.activeProtocol == .t1)
            let response = try card.transmit(PIV.select)
            #expect(response.statusWord == 0x9000)
            #expect(response.data.first == 0x61)  // application property template
            try card.disconnect()
        }
    }

    @Test("a transaction brackets several APDUs")
    func transaction() async throws {
        try await CardRig.withRig { _ in
            let card = try Context().connect(to: CardRig.readerName)
            let words = try card.withTransaction {
                [
                    try card.transmit(PIV.select).statusWord,
                    try card.transmit(PIV.verify("123456")).statusWord,
                ]
            }
            #expect(words == [0x9000, 0x9000])
        }
    }

    @Test("the event sequence ends with an error when pcscd stops")
    func pcscdStops() async throws {
        let rig = try await CardRig.start()
        let log = EventLog()
        let watcher = EventLog.watch(into: log)
        #expect(await eventually { await !log.events.isEmpty })
        await rig.stop()
        #expect(await eventually { await log.finished })
        let failure = await log.failure as? PCSCError
        #expect(
            [PCSCError.commError, .noService, .serviceStopped].contains(failure),
            "\(String(describing: failure))")
        watcher.cancel()
    }

    @Test("an exclusive connection keeps a shared one out")
    func exclusive() async throws {
        try await CardRig.withRig { _ in
            let context = try Context()
            let holder = try context.connect(to: CardRig.readerName, mode: .exclusive)
            #expect(throws: PCSCError.sharingViolation) {
                _ = try Context().connect(to: CardRig.readerName)
            }
            try holder.disconnect()
            _ = try context.connect(to: CardRig.readerName)
        }
    }

    @Test("pulling the card is a removal event, re-inserting it an insertion; the old handle is dead")
    func pullAndInsertEvents() async throws {
        try await CardRig.withRig { rig in
            let card = try Context().connect(to: CardRig.readerName)
            let log = EventLog()
            let watcher = EventLog.watch(into: log)
            let inserted = ReaderEvent.cardInserted(
                reader: CardRig.readerName,
                atr: ATR(hex: CardRig.atrHex)!)
            let removed = ReaderEvent.cardRemoved(reader: CardRig.readerName)
            // The current state comes first: the reader and the card already in it.
            #expect(await eventually { await log.contains(inserted) })
            #expect(await log.contains(.readerAdded(CardRig.readerName)))

            try await rig.pull()
            #expect(await eventually { await log.contains(removed) })
            #expect(!(try Context().state(of: CardRig.readerName).isCardPresent))
            let afterRemoval = await log.events.count

            try await rig.insert()
            #expect(await eventually { await log.index(of: inserted, after: afterRemoval) != nil })
            #expect(try Context().state(of: CardRig.readerName).isCardPresent)

            // The connection made before the pull belongs to a card that left.
            #expect(throws: PCSCError.removedCard) { _ = try card.transmit(PIV.select) }

            // Cancelling the watching task ends the sequence (SCardCancel) without an error.
            watcher.cancel()
            #expect(await eventually { await log.finished })
            #expect(await log.failure == nil)
        }
    }

    @Test("PIN policy 'always': each signature needs its own VERIFY")
    func pinAlways() async throws {
        try await CardRig.withRig { rig in
            let generated = try await rig.pivTool([
                "-a", "generate", "-s", "9c", "-A", "ECCP256",
                "--pin-policy=always", "--touch-policy=never",
            ])
            #expect(generated.status == 0, "\(generated.combined)")
            let card = try Context().connect(to: CardRig.readerName)
            #expect(try card.transmit(PIV.select).isSuccess)
            let digest = [UInt8](repeating: 0x5A, count: 32)
            let sign = PIV.sign(digest, algorithm: 0x11, slot: 0x9C)
            #expect(try card.transmit(sign).statusWord == 0x6982)
            #expect(try card.transmit(PIV.verify("123456")).isSuccess)
            let signature = try card.transmit(sign)
            #expect(signature.isSuccess)
            #expect(signature.data.first == 0x7C)
            #expect(try card.transmit(sign).statusWord == 0x6982)  // the VERIFY is spent
        }
    }

    @Test("wrong PINs count down to blocked; the PUK unblocks")
    func pinCounter() async throws {
        try await CardRig.withRig { rig in
            let card = try Context().connect(to: CardRig.readerName)
            #expect(try card.transmit(PIV.select).isSuccess)
            #expect(try card.transmit(PIV.verify("000000")).statusWord == 0x63C2)
            #expect(try card.transmit(PIV.verify("000000")).statusWord == 0x63C1)
            #expect(try card.transmit(PIV.verify("000000")).statusWord == 0x6983)
            #expect(try card.transmit(PIV.verify("123456")).statusWord == 0x6983)
            try card.disconnect()
            let unblocked = try await rig.pivTool([
                "-a", "unblock-pin", "-P", "12345678",
                "-N", "654321",
            ])
            #expect(unblocked.status == 0, "\(unblocked.combined)")
            let again = try Context().connect(to: CardRig.readerName)
            #expect(try again.transmit(PIV.select).isSuccess)
            #expect(try again.transmit(PIV.verify("654321")).isSuccess)
        }
    }
}
