import PCSC
import TestSupport
import Testing

@Suite("Without pcscd")
struct NoServiceTests {
    @Test("listing readers fails with 'pcscd is not running' (SCARD_E_NO_SERVICE)")
    func noService() async throws {
        try await CardRig.withoutRig {
            let error = #expect(throws: PCSCError.self) {
                _ = try Context().readers()
            }
            #expect(error == .noService)
            #expect(error?.code == 0x8010_001D)
            #expect(error?.name == "SCARD_E_NO_SERVICE")
            #expect(error?.description.contains("pcscd is not running") == true)
        }
    }
}
