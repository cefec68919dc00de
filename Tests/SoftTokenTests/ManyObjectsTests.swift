import Foundation
import PKCS11
import TestSupport
import Testing

/// A token with 10,000 objects: all stored, all found again by a fresh process. Timings are
/// printed for people; the speed goals belong to the benchmark, not to this test.
@Suite("software token with 10,000 objects")
struct ManyObjectsTests {
    static let count = 10_000

    @Test(
        "10,000 data objects created in this process are all found by a fresh process (C_FindObjects and pkcs11-tool -O)"
    )
    func tenThousandObjects() throws {
        let (test, session) = try SoftTokenRig.freshSession()
        let env = try SoftTokenRig.environment()

        var clock = Date()
        for n in 0..<Self.count {
            _ = try session.createObject([
                Attribute(.data), Attribute(.token, true), Attribute(.private, false),
                Attribute(.label, string: "o\(n)"), Attribute(.value, string: "value of o\(n)"),
            ])
        }
        let created = Date().timeIntervalSince(clock)

        clock = Date()
        let listed = try OtherProcess.listedObjects(token: test.label, pin: test.userPIN, environment: env)
        let foundByDriver = Date().timeIntervalSince(clock)
        #expect(listed.count == Self.count)
        let wrong = (0..<Self.count).filter { listed["o\($0)"] != "value of o\($0)" }
        #expect(wrong.isEmpty, "\(wrong.count) objects missing or wrong, e.g. o\(wrong.first ?? -1)")

        clock = Date()
        let tool = try OtherProcess.pkcs11Tool(
            ["--token-label", test.label, "--login", "--pin", test.userPIN, "-O", "--type", "data"],
            environment: env)
        let foundByTool = Date().timeIntervalSince(clock)
        #expect(tool.status == 0, "\(tool.stderr)")
        #expect(tool.stdout.components(separatedBy: "Data object ").count - 1 == Self.count)

        print(
            String(
                format:
                    "10,000 objects: created in %.1f s (%.2f ms each); listed with values by a fresh process in %.2f s; pkcs11-tool -O in %.2f s",
                created, created * 1000 / Double(Self.count), foundByDriver, foundByTool))
    }
}
