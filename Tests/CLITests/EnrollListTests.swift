import Foundation
import TestSupport
import Testing

/// `enroll list` as a person reads it: each pending pair with its security level and the URI
/// that `enroll verify`, `objects` and `install-cert` take.
@Suite("enroll list shows each pending pair's security level and URI")
struct EnrollListTests {
    @Test("the table has SECURITY and URI columns, and each row's URI is the one --json gives and names the key")
    func levelAndURI() throws {
        let cli = try TokenCLI.softHSM()
        for (name, level) in [("std.example", "standard"), ("high.example", "high")] {
            let made = try cli.run(
                [
                    "enroll", "new", "--subject", "CN=\(name)", "--key", "ec:p256", "--security-level", level,
                    "--token", cli.tokenURI, "-o", cli.dir.file("\(name).csr"),
                ] + (level == "high" ? ["--key-password-source", "env:PIN"] : []))
            try #require(made.status == 0, "\(made.stderr)")
        }
        let listed = try cli.run(["enroll", "list", "--token", cli.tokenURI])
        try #require(listed.status == 0, "\(listed.stderr)")
        let lines = listed.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(
            lines.first == ["TOKEN", "LABEL", "KEY", "SECURITY", "CREATED", "EXPORTABLE", "SUBJECT", "URI"],
            "\(listed.stdout)")
        #expect(lines.count == 3, "\(listed.stdout)")

        let pending = try cli.json([PendingJSON].self, ["enroll", "list", "--token", cli.tokenURI])
        #expect(pending.count == 2)
        for entry in pending {
            let row = try #require(lines.first { $0.count > 1 && $0[1] == entry.record.label }, "\(listed.stdout)")
            #expect(row[3] == entry.securityLevel && row.last == entry.uri, "\(row)")
            #expect(
                entry.uri.contains("object=\(entry.record.label)") && entry.uri.contains("type=private"), "\(entry.uri)"
            )
            // The URI shown is one the other commands take.
            let objects = try cli.run(["objects", entry.uri, "--json"])
            try #require(objects.status == 0, "\(objects.stderr)")
            let found = try #require(try JSONSerialization.jsonObject(with: objects.stdoutData) as? [[String: Any]])
            #expect(found.map { $0["label"] as? String } == [entry.record.label], "\(objects.stdout)")
        }
        #expect(Set(pending.map(\.securityLevel)) == ["standard", "high"])
    }
}
