import Foundation
import TestSupport
import Testing

/// The virtual card's own unit tests (Tests/VirtualCard/test_piv_applet.py), run with Debian's
/// python3 so a broken card shows up as one clear failure before the PC/SC tests fail on it.
@Suite("Virtual card self-tests")
struct VirtualCardSelfTests {
    @Test("the PIV applet passes its Python unit tests")
    func appletUnitTests() async throws {
        let result = try await CardRig.runProcess(
            "/usr/bin/python3",
            ["-B", "-m", "unittest", "discover", "-s", CardRig.virtualCardDirectory.path])
        #expect(result.status == 0, "\(result.combined)")
        #expect(result.standardError.contains("OK"), "\(result.combined)")
    }
}
