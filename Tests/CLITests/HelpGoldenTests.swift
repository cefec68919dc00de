import Foundation
import TestSupport
import Testing

/// The help text users and docs rely on, compared byte for byte with Tests/Golden/help. A change
/// to the help is a change to review: regenerate with
/// `CERTBRIDGE_UPDATE_GOLDEN=1 swift test --filter HelpGoldenTests` and read the diff.
@Suite("help text (golden)")
struct HelpGoldenTests {
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Golden/help").standardized.path

    @Test(
        "help matches its golden file",
        arguments: [
            ["--help"], ["import", "--help"], ["export", "--help"], ["check-exportable", "--help"],
            ["pfx", "inspect", "--help"], ["enroll", "new", "--help"], ["install-cert", "--help"],
            ["objects", "--help"],
            ["readers", "--help"], ["softtoken", "init", "--help"], ["decrypt", "--help"], ["encrypt", "--help"],
            ["audit", "--help"], ["pin", "unlock-key", "--help"],
        ])
    func matchesGolden(arguments: [String]) throws {
        // A fixed width, so the wrapping does not depend on the terminal the tests run in.
        let result = try CLI.run(arguments, environment: ["COLUMNS": "100"])
        #expect(result.status == 0, "\(result.stderr)")
        let name = (["certbridge"] + arguments.dropLast()).joined(separator: "-") + ".txt"
        let path = Self.goldenDirectory + "/" + name
        if ProcessInfo.processInfo.environment["CERTBRIDGE_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(atPath: Self.goldenDirectory, withIntermediateDirectories: true)
            try result.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOfFile: path, encoding: .utf8)
        #expect(result.stdout == golden, "certbridge \(arguments.joined(separator: " ")) differs from \(name)")
    }

    @Test("no help text shows a stray backslash from a line continuation")
    func noStrayBackslashes() throws {
        for arguments in [
            ["import", "--help"], ["export", "--help"], ["check-exportable", "--help"], ["pfx", "inspect", "--help"],
            ["install-cert", "--help"], ["enroll", "--help"],
        ] {
            let result = try CLI.run(arguments, environment: ["COLUMNS": "100"])
            // Only an example (indented) may end a line with a shell continuation; prose never does.
            let stray = result.stdout.split(separator: "\n").filter { $0.hasSuffix("\\") && !$0.hasPrefix("  ") }
            #expect(stray.isEmpty, "certbridge \(arguments.joined(separator: " ")): \(stray)")
        }
    }
}
