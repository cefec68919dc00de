import ArgumentParser
import CertStore
import FoundationEssentials

extension CertBridge {
    struct Export: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Back up an exportable token key with its certificate and chain as a PFX.",
            discussion: """
                Like Windows' Certificate Export Wizard with "Yes, export the private key": only keys \
                marked exportable can leave the token; for the rest the command says so (exit 3) \
                before asking for any password, and writes nothing.

                The key leaves the token wrapped under a one-time AES key and is unwrapped only in \
                memory. The file is written 0600 under a temporary name, opened again with the \
                password and checked against the token's public key, and only then given its name.

                Profiles: modern (the default, "strong protection": PBES2 AES-256-CBC, \
                PBKDF2-HMAC-SHA256 with 600,000 iterations, SHA-256 MAC) and compat (3DES and a \
                SHA-1 MAC, for old Windows Server, Java 8 and appliances).

                With --cert-only only the certificate is written, as PEM or DER by the file's \
                extension (.pem, .crt: PEM; .der, .cer: DER); no key, no password.

                Example:
                  certbridge export 'pkcs11:token=Backup;object=alice' -o alice.pfx \\
                    --pin-source env:PIN
                """)

        @Argument(
            help: ArgumentHelp("The key (or with --cert-only, the certificate), a PKCS#11 URI.", valueName: "URI"))
        var uri: String

        @Option(
            name: [.short, .customLong("out")], help: ArgumentHelp("Where to write the backup.", valueName: "FILE"))
        var output: String

        @Flag(help: "Leave out the chain (the CA certificates).")
        var noChain = false

        @Option(
            help: ArgumentHelp(
                "CA certificates (PEM bundle or DER) that complete the chain beyond those on the token.",
                valueName: "FILE"))
        var chainFile: String?

        @Option(help: ArgumentHelp("modern or compat.", valueName: "PROFILE"))
        var profile: ProfileName = .modern

        @Flag(help: "Write only the certificate (PEM or DER by extension), no key.")
        var certOnly = false

        @Flag(help: "Replace FILE if it exists.")
        var force = false

        @Option(
            help: ArgumentHelp(
                "For a key with its own password (High level on the software token): where that password comes from: tty, file:PATH, env:NAME or fd:N.",
                valueName: "SRC"))
        var keyPasswordSource: String?

        @OptionGroup var global: GlobalOptions

        enum ProfileName: String, ExpressibleByArgument, CaseIterable { case modern, compat }

        func execute() throws(StoreError) {
            let store = try global.store()
            let uri = try parseURI(self.uri)
            let pin = try global.pinProvider(store, uri: self.uri)
            if certOnly {
                let written = try store.exportCertificate(
                    uri, to: output, pem: !(output.hasSuffix(".der") || output.hasSuffix(".cer")),
                    overwrite: force, pin: pin)
                if global.json { return try printJSON(written) }
                print("Wrote the certificate \"\(written.subject)\" to \(output).")
                return
            }
            var options = ExportOptions()
            options.includeChain = !noChain
            options.extraChain =
                try chainFile.map { (path) throws(StoreError) in try readCertificates(try readFile(path)) } ?? []
            options.profile = profile == .compat ? .compat : .modern
            options.overwrite = force
            if let keyPasswordSource {
                let keySource = try SecretSource(keyPasswordSource)
                options.keyPassword = { label throws(StoreError) in
                    try keySource.read(prompt: KeyPasswordOptions.prompt(key: label, token: nil, ownPassword: true))
                }
            }
            let source = try global.passwordSecretSource()
            let result = try store.exportBackup(uri, to: output, options: options, pin: pin) { () throws(StoreError) in
                try source.readNew(prompt: "Password for \(output): ")
            }
            if global.json { return try printJSON(result) }
            for warning in result.warnings { printWarning("\(warning)") }
            print(
                "Wrote \"\(result.label)\" to \(output) (\(result.profile) protection), with \(result.certificates.count) certificate(s):"
            )
            for subject in result.certificates { print("  \(subject)") }
        }
    }
}
