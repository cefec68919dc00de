import Foundation
import TestSupport
import Testing

/// `tokens` reports the PIN state the token reports: after a wrong PIN SoftHSM2 raises
/// CKF_USER_PIN_COUNT_LOW, and a right one clears it.
@Suite("PIN state through the CLI")
struct PINStateTests {
    struct TokenJSON: Decodable {
        let label: String
        let pinState: String
        let flags: [String]
    }

    func state(of test: TestToken) throws -> TokenJSON {
        let tokens = try CLI.json([TokenJSON].self, ["tokens", "--module", SoftHSM.modulePath])
        return try #require(tokens.first { $0.label == test.label })
    }

    @Test("a wrong PIN shows as count-low in tokens (text and JSON); a right PIN makes it ok again")
    func countLow() throws {
        let test = try SoftHSM.freshToken()
        #expect(try state(of: test).pinState == "ok")
        let wrong = try CLI.run(
            ["objects", "pkcs11:token=\(test.label)", "--pin-source", "env:PIN", "--module", SoftHSM.modulePath],
            environment: ["PIN": "0000"])
        #expect(wrong.status == 4)
        #expect(wrong.stderr.contains("few tries left"), "\(wrong.stderr)")
        let low = try state(of: test)
        #expect(low.pinState == "count-low")
        #expect(low.flags.contains("user-pin-count-low"))
        let text = try CLI.run(["tokens", "--module", SoftHSM.modulePath])
        let block = text.stdout.components(separatedBy: "\n\n").first { $0.contains("token:         \(test.label)\n") }
        #expect(block?.contains("PIN:           count-low") == true, "\(text.stdout)")

        let right = try CLI.run(
            ["objects", "pkcs11:token=\(test.label)", "--pin-source", "env:PIN", "--module", SoftHSM.modulePath],
            environment: ["PIN": test.userPIN])
        #expect(right.status == 0, "\(right.stderr)")
        #expect(try state(of: test).pinState == "ok")
    }
}
