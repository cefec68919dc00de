import ArgumentParser
import CertStore

extension CertBridge {
    struct CheckExportable: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-exportable",
            abstract: "Say whether a token key can be exported, and why (exit 0 yes, 3 no, 5 no such key).",
            discussion: """
                The answer comes from the flags the token reports for the key: exportable means \
                CKA_EXTRACTABLE=true (and not CKA_NEVER_EXTRACTABLE). \
                This is the command scripts call before a backup.

                Example:
                  certbridge check-exportable 'pkcs11:token=Backup;object=alice' \\
                    --pin-source env:PIN
                """)

        @Argument(help: ArgumentHelp("The private key (a PKCS#11 URI).", valueName: "URI"))
        var uri: String

        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let store = try global.store()
            let answer = try store.exportability(of: try parseURI(uri), pin: try global.pinProvider(store, uri: uri))
            if global.json {
                try printJSON(answer)
            } else {
                print(
                    "\"\(answer.label)\" on \"\(answer.token)\" is \(answer.exportable ? Style.paint("exportable", .yellow) : Style.paint("not exportable", .green)): \(answer.reason)."
                )
            }
            if !answer.exportable { throw StoreError.silent(.notExportable) }
        }
    }
}
