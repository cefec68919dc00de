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

/// Help examples are meant to be copied: at the 80 columns ArgumentParser wraps to when there is
/// no terminal, no example may be broken inside a word or an option.
@Suite("help examples")
struct HelpExampleTests {
    /// Every command's path (`["pfx", "inspect"]`), from the binary's own command tree.
    static func commandPaths() throws -> [[String]] {
        let dump = try CLI.run(["--experimental-dump-help"])
        let root = try #require(
            try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var paths: [[String]] = []
        func walk(_ command: [String: Any], _ path: [String]) {
            paths.append(path)
            for case let sub as [String: Any] in command["subcommands"] as? [Any] ?? [] {
                guard let name = sub["commandName"] as? String, name != "help" else { continue }
                walk(sub, path + [name])
            }
        }
        walk(try #require(root["command"] as? [String: Any]), [])
        return paths
    }

    /// The example commands of a help text: each `certbridge …` line indented as an example, with
    /// the lines its trailing backslashes continue onto.
    static func examples(in help: String) -> [String] {
        var examples: [String] = []
        var continuing = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if continuing || (line.hasPrefix("  ") && trimmed.hasPrefix("certbridge ")) {
                examples.append(trimmed)
                continuing = trimmed.hasSuffix("\\")
            }
        }
        return examples
    }

    @Test("every example reads the same at 80 columns as at 200, and fits in 80")
    func examplesDoNotWrap() throws {
        var checked = 0
        for path in try Self.commandPaths() {
            let narrow = try CLI.run(path + ["--help"], environment: ["COLUMNS": "80"])
            let wide = try CLI.run(path + ["--help"], environment: ["COLUMNS": "200"])
            #expect(narrow.status == 0 && wide.status == 0, "certbridge \(path.joined(separator: " ")) --help")
            let examples = Self.examples(in: narrow.stdout)
            #expect(
                examples == Self.examples(in: wide.stdout),
                "certbridge \(path.joined(separator: " ")) --help: an example wraps at 80 columns")
            for line in narrow.stdout.split(separator: "\n") where Self.examples(in: String(line)).count == 1 {
                #expect(line.count <= 80, "certbridge \(path.joined(separator: " ")) --help: \(line)")
            }
            checked += examples.count
        }
        // The help does have examples: a parser that found none would pass vacuously.
        #expect(checked >= 20, "only \(checked) example lines found")
    }
}
