import ArgumentParser
import CertStore

extension CertBridge {
    struct Import: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Load a PFX/PKCS#12 backup onto a token: key, certificate and chain, all or nothing.",
            discussion: """
                Like Windows' Certificate Import Wizard: the key is placed non-exportable unless you \
                pass --exportable, at the High security level (a PIN for every use) with \
                --security-level high, and the whole certification path comes along unless \
                --no-chain; --chain-file adds CA certificates the PFX lacks, and a path that stops \
                short of a self-signed root is warned about, naming the missing issuer. Afterwards the flags are read back from the token and shown: what you \
                see is what the token holds. If any step fails, everything this import wrote is \
                removed again.

                The PFX password comes from --password-source, the token PIN from --pin-source \
                (for the target token only).

                A backup with several key entries (a Java keystore with two aliases) lands whole: \
                every key with its own certificate and chain, and if one fails the others are \
                removed again; --friendly-name NAME imports one entry alone.

                Without --token the key goes to the only token present, and the output names it; \
                with several tokens present the import refuses (exit 2) and lists each one's URI. \
                With no hardware the token is CertBridge's software token (made on the spot on a \
                terminal, or with 'certbridge softtoken init'). There --key-password-source gives a High-level key a password of \
                its own, asked at every use instead of the token PIN (Windows' "password for this \
                item").

                Onto a smart card: a PIV card or YubiKey takes the key through Yubico's ykcs11 \
                module, logged in with the card's management key (--so-pin-source, 48 hex digits). \
                --security-level high places the key in slot 9C, where the card asks for the PIN \
                before every signature (PIN policy "always"); standard uses 9A, 9D or a retired \
                slot (PIN once per session). The card keeps no chain and no label, and never lets \
                a key out: the import says so. The key is then usable through OpenSC too.

                Example:
                  certbridge import alice.pfx --token 'pkcs11:token=Backup' \\
                    --security-level high --password-source file:pfx-pass \\
                    --pin-source env:TOKEN_PIN
                  certbridge import alice.pfx \\
                    --module /usr/lib/x86_64-linux-gnu/libykcs11.so \\
                    --token 'pkcs11:model=YubiKey%20YK5' --security-level high \\
                    --password-source file:pfx-pass --so-pin-source file:mgm-key
                """)

        @Argument(help: ArgumentHelp("The PFX or P12 backup.", valueName: "FILE.pfx"))
        var file: String

        @Option(
            help: ArgumentHelp(
                "The token to import onto (a PKCS#11 URI; ?pin-source=SRC gives its PIN). Default: the only token present.",
                valueName: "URI"))
        var token: String?

        @OptionGroup var policy: KeyPolicyOptions

        @Flag(help: "Leave out the chain (the CA certificates).")
        var noChain = false

        @Option(
            help: ArgumentHelp(
                "CA certificates (PEM bundle or DER) that complete the chain beyond those in the PFX.",
                valueName: "FILE"))
        var chainFile: String?

        @Option(
            help: ArgumentHelp(
                "Label for the key and certificate. Default: the friendly name, else the subject's CN.", valueName: "L")
        )
        var label: String?

        @Option(
            help: ArgumentHelp(
                "For a backup with several key entries (a keystore with several aliases): import only the entry with this friendly name. Default: every entry, each with its certificate, all or nothing.",
                valueName: "NAME"))
        var friendlyName: String?

        @Flag(help: "Replace the key if it is on the token already.")
        var replace = false

        @Option(
            help: ArgumentHelp(
                "With --security-level high on the software token: the key's own password, asked at every use instead of the token PIN (tty: asked twice, file:PATH, env:NAME or fd:N).",
                valueName: "SRC"))
        var keyPasswordSource: String?

        @Option(
            help: ArgumentHelp(
                "Where the security officer's PIN comes from (tty, file:PATH, env:NAME or fd:N); for a PIV card (ykcs11), the management key as 48 hex digits. Asked only by tokens that need it.",
                valueName: "SRC"))
        var soPinSource: String?

        func validate() throws {
            try validateSecretSource(soPinSource)
            try validateSecretSource(keyPasswordSource)
            if keyPasswordSource != nil, policy.securityLevel != .high {
                throw ValidationError("--key-password-source goes with --security-level high")
            }
        }

        @OptionGroup var backupFile: BackupFileOptions

        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let backup = try backupFile.open(file, global: global)
            if !global.json {
                for warning in BackupDescription(backup).warnings { printWarning("\(file): \(warning)") }
            }
            let store = try global.store()
            let target = try global.targetToken(store, uri: token)
            var options = ImportOptions()
            options.exportable = policy.exportable
            options.securityLevel = policy.securityLevel
            options.includeChain = !noChain
            options.label = label
            options.replace = replace
            if let keyPasswordSource {
                let source = try SecretSource(keyPasswordSource)
                options.keyPassword = { label throws(StoreError) in
                    try source.readNew(prompt: "New password for this key on \"\(label)\" (asked at every use): ")
                }
            }
            let soSource = try soPinSource.map { (text) throws(StoreError) in try SecretSource(text) } ?? .tty
            let entries = try Store.entries(of: backup, friendlyName: friendlyName, file: file)
            let extraChain =
                try chainFile.map { (path) throws(StoreError) in try readCertificates(try readFile(path)) } ?? []
            let results = try store.importBackupEntries(
                entries, to: target, options: options, extraChain: extraChain,
                pin: try global.pinProvider(for: target, uri: token)
            ) { token throws(StoreError) in
                try soSource.read(
                    prompt: "SO PIN (for a PIV card: the management key, hex) for token \"\(token.label)\": ")
            }
            // One entry prints one object, as always; several print a list.
            if global.json { return results.count == 1 ? try printJSON(results[0]) : try printJSON(results) }
            if results.count > 1 {
                print(
                    "Imported \(results.count) key entries onto \"\(target.label.visible)\", each with its certificate.\n"
                )
            }
            for result in results {
                print(
                    "Imported \"\(result.label.visible)\" onto \"\(result.token.visible)\"\(result.replaced > 0 ? ", replacing the key that was there" : ""). As the token reports it:"
                )
                print()
                for object in result.objects {
                    print(Objects.render(object))
                    print()
                }
                if result.chainAlreadyPresent > 0 {
                    print("\(result.chainAlreadyPresent) chain certificate(s) were on the token already.")
                }
                for note in result.notes { printNote("note: \(note)") }
                for warning in result.warnings { printWarning("\(warning)") }
            }
        }
    }
}
