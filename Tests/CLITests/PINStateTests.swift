import Foundation
import TestSupport
import Testing

/// `tokens` reports the PIN state the token reports: after a wrong PIN SoftHSM2 raises
/// CKF_USER_PIN_COUNT_LOW, and a right one clears it.
@Suite("PIN state through the CLI")
struct PINStateTests {
    @Test("a wrong PIN shows as count-low in tokens (text and JSON); a right PIN makes it ok again")
    func countLow() throws {
        let cli = try TokenCLI.softHSM()
        #expect(try cli.listed().pinState == "ok")
        let wrong = try cli.run(["objects", cli.tokenURI], environment: ["PIN": "0000"])
        #expect(wrong.status == 4)
        #expect(wrong.stderr.contains("few tries left"), "\(wrong.stderr)")
        let low = try cli.listed()
        #expect(low.pinState == "count-low")
        #expect(low.flags.contains("user-pin-count-low"))
        let text = try CLI.run(["tokens"] + cli.modules)
        let block = text.stdout.components(separatedBy: "\n\n").first {
            $0.contains("token:         \(cli.test.label)\n")
        }
        #expect(block?.contains("PIN:           count-low") == true, "\(text.stdout)")

        let right = try cli.run(["objects", cli.tokenURI])
        #expect(right.status == 0, "\(right.stderr)")
        #expect(try cli.listed().pinState == "ok")
    }
}
