import ArgumentParser
import CertStore
import FoundationEssentials

extension CertBridge {
    struct Audit: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Show and check the software token's audit trail.",
            discussion: """
                The software token appends an entry for every approval asked, given, refused or \
                timed out, every failed login, and every key imported, generated, exported or \
                deleted: the time, the program (executable and pid), the key, the operation and the \
                outcome, never a secret. Entries are hash-chained: --verify names the first entry of \
                an edited, reordered or truncated trail and exits 1.

                Example:
                  certbridge audit 'pkcs11:token=Backup' --verify
                """)

        @Argument(help: ArgumentHelp("The token (a PKCS#11 URI). Default: every software token.", valueName: "URI"))
        var uri: String?

        @Flag(help: "Check the hash chain; exit 1 at the first bad entry.")
        var verify = false

        @OptionGroup var global: GlobalOptions

        /// One token's trail, as --json prints it.
        struct Report: Encodable {
            var token: String
            var intact: Bool
            var firstBadEntry: Int?
            var problem: String?
            var entries: [AuditEntry]
        }

        func execute() throws(StoreError) {
            let store = try global.store()
            let tokens: [Token]
            if let uri {
                tokens = [try store.token(matching: parseURI(uri))]
            } else {
                tokens = store.tokens().filter { $0.isSoftToken && $0.isInitialized }
            }
            var reports: [Report] = []
            for token in tokens {
                let trail = try store.auditTrail(of: token)
                reports.append(
                    Report(
                        token: token.label, intact: trail.firstBadEntry == nil, firstBadEntry: trail.firstBadEntry,
                        problem: trail.problem, entries: trail.entries))
            }
            if global.json {
                try printJSON(reports)
            } else {
                for report in reports {
                    print(
                        "Token \"\(report.token)\": \(report.entries.count) entries"
                            + (report.intact ? ", chain intact" : ""))
                    for entry in report.entries {
                        let key = entry.key.isEmpty ? "" : " key \"\(entry.key)\""
                        print(
                            "  \(entry.seq)  \(entry.time)  \(entry.program) (pid \(entry.pid))\(key): \(entry.operation): \(entry.outcome)"
                        )
                    }
                    if let problem = report.problem { print("  BAD: \(problem)") }
                }
            }
            if verify, let bad = reports.first(where: { !$0.intact }) {
                throw StoreError(
                    .failed,
                    "the audit trail of \"\(bad.token)\" is damaged: \(bad.problem ?? "entry \(bad.firstBadEntry ?? 0)")"
                )
            }
        }
    }
}
