import Testing

@testable import PCSC

@Suite("PCSCError names and messages")
struct PCSCErrorTests {
    @Test("pcscd not running, no readers and a pulled card read differently to a person")
    func distinctMessages() {
        #expect(PCSCError.noService.name == "SCARD_E_NO_SERVICE")
        #expect(PCSCError.noService.code == 0x8010_001D)
        #expect(PCSCError.noService.reason.hasPrefix("pcscd is not running"))
        #expect(PCSCError.noReadersAvailable.name == "SCARD_E_NO_READERS_AVAILABLE")
        #expect(PCSCError.noReadersAvailable.reason.contains("No smart-card reader"))
        #expect(PCSCError.removedCard.name == "SCARD_W_REMOVED_CARD")
        #expect(PCSCError.removedCard.reason.contains("removed"))
        let reasons = [
            PCSCError.noService, .noReadersAvailable, .removedCard, .resetCard,
            .noSmartcard, .sharingViolation,
        ].map(\.reason)
        #expect(Set(reasons).count == reasons.count)
    }

    @Test("description names the function, the constant and the code")
    func description() {
        let error = PCSCError(code: 0x8010_001D, function: "SCardEstablishContext")
        #expect(
            error.description.hasPrefix(
                "SCardEstablishContext: SCARD_E_NO_SERVICE (0x8010001D): pcscd is not running"))
        #expect(error == .noService)
    }

    @Test("an unknown code keeps its number")
    func unknownCode() {
        let error = PCSCError(code: 0x8010_00FF)
        #expect(error.name == "SCARD_0x801000FF")
        #expect(error != .noService)
    }

    @Test("every table entry has a SCARD_ name and a sentence")
    func table() {
        for (code, entry) in PCSCError.table {
            #expect(entry.name.hasPrefix("SCARD_"), "\(code)")
            #expect(entry.reason.hasSuffix(".") || entry.reason.hasSuffix("?"), "\(entry.name)")
        }
    }
}
