import ArgumentParser
import CertStore

extension CertBridge {
    struct Enroll: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enrollment key pairs: key pair and CSR now, certificate later.",
            discussion: """
            A certificate request starts with a key pair made on the token. It waits, pending, \\
            until the CA issues the certificate; then `certbridge install-cert` attaches it.
            """,
            subcommands: [List.self])
    }
}

extension CertBridge.Enroll {
    struct List: StoreCommand {
        static let configuration = CommandConfiguration(abstract: "List the pending enrollment key pairs on all tokens.")

        @Option(help: ArgumentHelp("Only this token (a PKCS#11 URI).", valueName: "URI"))
        var token: String?

        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let store = try global.store()
            let pending = try store.pendingEnrollments(matching: try token.map { (text) throws(StoreError) in try parseURI(text) },
                                                       pin: try global.pinProvider(uri: token))
            if global.json { return try printJSON(pending) }
            if pending.isEmpty { print("No pending enrollment key pairs."); return }
            print(table([["TOKEN", "LABEL", "KEY", "CREATED", "EXPORTABLE", "SUBJECT"]] + pending.map { item in
                [item.token, item.record.label, item.record.keySpec.rawValue, item.record.created.formatted(.iso8601),
                 item.exportable ? "yes" : "no", item.record.subject]
            }))
        }
    }
}
