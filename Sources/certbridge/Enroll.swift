import ArgumentParser
import CertStore
import FoundationEssentials

extension CertBridge {
    struct Enroll: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enroll",
            abstract: "Enrollment key pairs: key pair and CSR now, certificate later.",
            discussion: """
                A certificate request starts with a key pair made on the token (`enroll new`). It \
                waits, pending, until the CA issues the certificate; `certbridge install-cert` then \
                attaches it. In between, `enroll verify` proves the key works and that you know its \
                password, and `enroll backup` saves it — if it was made exportable.
                """,
            subcommands: [New.self, List.self, Verify.self, Backup.self])
    }
}

extension CertBridge.Enroll {
    struct New: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "new",
            abstract: "Generate a key pair on a token and write a PKCS#10 request signed by it.",
            discussion: """
                The key is generated on the token (CKA_LOCAL: it never existed anywhere else), \
                non-exportable unless --exportable — and a non-exportable enrollment key can never \
                be backed up, so decide now. With --security-level high on the software token, \
                --key-password-source sets the key's own password (asked twice on a terminal), asked \
                at every use instead of the token PIN. The pair is recorded as pending on the token, so \
                `enroll list` finds it from any machine until its certificate is installed.

                Example:
                  certbridge enroll new --subject 'CN=build.example.com,O=Example,C=DE' \\
                    --san DNS:build.example.com --key ec:p256 -o build.csr \\
                    --pin-source env:PIN
                """)

        @Option(help: ArgumentHelp("The subject, most specific first: CN=...,O=...,C=...", valueName: "DN"))
        var subject: String

        @Option(
            help: ArgumentHelp(
                "A subjectAltName (repeatable): DNS:name, email:addr, IP:addr, URI:uri.", valueName: "NAME"))
        var san: [String] = []

        @Option(help: ArgumentHelp("rsa:2048, rsa:3072, rsa:4096, ec:p256, ec:p384 or ec:p521.", valueName: "TYPE"))
        var key: KeySpec = .p256

        @Option(
            help: ArgumentHelp(
                "The token (a PKCS#11 URI). Default: the only token present; with several, refused.", valueName: "URI"))
        var token: String?

        @Option(
            help: ArgumentHelp(
                "signing (keyUsage digitalSignature, nonRepudiation) or encryption (keyEncipherment for RSA, keyAgreement for EC). Default: signing.",
                valueName: "USAGE"))
        var usage: KeyUsage = .signing

        @OptionGroup var policy: KeyPolicyOptions

        @Option(help: ArgumentHelp("Label for the key pair. Default: the subject's CN.", valueName: "L"))
        var label: String?

        @Option(
            name: [.short, .customLong("out")], help: ArgumentHelp("Where to write the CSR (PEM).", valueName: "FILE"))
        var output: String

        @OptionGroup var keyPassword: KeyPasswordOptions
        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            if FileManager.default.fileExists(atPath: output) {
                throw StoreError(.usage, "\(output) exists; choose another name")
            }
            let store = try global.store()
            let target = try global.targetToken(store, uri: token)
            let label =
                label ?? subject.split(separator: ",").first { $0.uppercased().hasPrefix("CN=") }.map {
                    String($0.dropFirst(3))
                } ?? "enrollment key"
            let pin = try global.pinProvider(for: target, uri: token)
            // On the software token a High key may get a password of its own, set now (asked twice
            // on a terminal) and used at once to approve the request's signature.
            var ownPassword: [UInt8]?
            defer { if ownPassword != nil { wipe(&ownPassword!) } }
            if policy.securityLevel == .high, target.hasKeyPasswords, let text = keyPassword.keyPasswordSource {
                let secret = try SecretSource(text).readNew(
                    prompt: "New password for this key on \"\(target.label)\" (asked at every use): ")
                ownPassword = secret.withUnsafeBytes { Array($0) }
            }
            let handle = try store.generateEnrollmentKeyPair(
                on: target, spec: key, label: label, subject: subject, subjectAlternativeNames: san,
                exportable: policy.exportable, securityLevel: policy.securityLevel, pin: pin, usage: usage,
                ownPassword: ownPassword.map { PIN(bytes: $0) })
            var keyURI = target.uri
            keyURI.id = handle.id
            keyURI.type = .privateKey
            do throws(StoreError) {
                var (provider, attempts) = try keyPassword.provider(global: global, uri: token ?? "")
                if ownPassword != nil {
                    // Captures the variable itself, so the wipe on the way out covers this use too.
                    provider = { _ throws(StoreError) in PIN(bytes: ownPassword ?? []) }
                    attempts = 1
                }
                let signer = try Signer(store: store, key: keyURI, pin: pin, keyPassword: provider, attempts: attempts)
                let csr = try CertificateRequest.make(
                    subject: subject, subjectAlternativeNames: san, signer: signer, usage: usage)
                try writeFile(Array(csr.utf8), to: output)
                if try !store.restrictToUsage(handle, usage) {
                    printNote(
                        "note: the token keeps CKA_SIGN read-only, so the key could still sign; its certificate's keyUsage will make `sign` refuse"
                    )
                }
            } catch {
                // Nothing half-done: a key pair without its request is removed again.
                try? store.removeEnrollment(handle)
                throw error
            }
            if global.json {
                return try printJSON([
                    "token": target.label, "label": label,
                    "id": handle.idHex,
                    "uri": keyURI.description, "csr": output, "usage": usage.rawValue,
                ])
            }
            print(
                "Generated \(key.rawValue) \(usage.rawValue) key pair \"\(label)\" on \"\(target.label)\" (\(policy.exportable ? "exportable" : "non-exportable"), \(policy.securityLevel.rawValue))."
            )
            print("Wrote the request to \(output). When the certificate is issued: certbridge install-cert ISSUED.pem")
            if !policy.exportable { print("Note: this key is non-exportable; no backup of it can ever be made.") }
        }
    }

    struct List: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the pending enrollment key pairs on all tokens.",
            discussion: """
                Every token is searched unless --token names one. --pin-source is the PIN of the \
                token --token names: a token the search meets without being told about it is \
                logged in to only after asking on the terminal with its name (Enter skips it), and \
                only if it holds pending pairs. A token skipped, or one that refuses the PIN, is \
                named on stderr, and the exit code (2 for a token with no PIN given, 4 for a wrong \
                PIN, 6 for a locked one) says the list may be incomplete. \
                'pkcs11:token=A?pin-source=file:PATH' gives a token its own PIN source.
                """)

        @Option(help: ArgumentHelp("Only this token (a PKCS#11 URI).", valueName: "URI"))
        var token: String?

        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let store = try global.store()
            let (pending, refused) = try store.pendingEnrollments(
                matching: try token.map { (text) throws(StoreError) in try parseURI(text) },
                pin: try global.pinProvider(store, uri: token))
            if global.json {
                try printJSON(pending)
            } else if pending.isEmpty {
                print("No pending enrollment key pairs\(refused.isEmpty ? "" : " on the tokens searched").")
            } else {
                print(
                    table(
                        [["TOKEN", "LABEL", "KEY", "SECURITY", "CREATED", "EXPORTABLE", "SUBJECT", "URI"]]
                            + pending.map { item in
                                [
                                    item.token, item.record.label, item.record.keySpec.rawValue,
                                    item.securityLevel.rawValue,
                                    item.record.created.formatted(.iso8601), item.exportable ? "yes" : "no",
                                    item.record.subject, item.uri,
                                ]
                            }))
            }
            // A token that would not let us in may hold more: the list is incomplete, and the
            // exit code says so.
            if let reasons = refused.notSearched { throw StoreError(refused.searchCode, reasons) }
        }
    }

    struct Verify: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract:
                "Prove an enrollment key works and that you know its password (a PIN-gated sign/verify round trip).",
            discussion:
                "An encryption key gets an encrypt → decrypt round trip instead; the output says which test ran.")

        @Argument(help: ArgumentHelp("The key pair (a PKCS#11 URI, as `enroll list` shows it).", valueName: "URI"))
        var uri: String

        @OptionGroup var keyPassword: KeyPasswordOptions
        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            if try runEncryptionRoundTripIfEncryptionKey(uri, keyPassword: keyPassword, command: "enroll verify") {
                return
            }
            let signer = try signer(for: uri, store: global.store(), keyPassword: keyPassword)
            let json = global.json
            if !json { print("Signing key: running the signing round trip (sign a challenge, verify it).") }
            let report = SigningSelfTest.run(signer) { step in printStep(step) }
            try finishSelfTest(report, command: "enroll verify")
            if !json { print("The key \"\(signer.key.label)\" works, and the password is right.") }
        }
    }

    struct Backup: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "backup",
            abstract: "Back up an exportable enrollment key pair as a PFX (with a self-signed placeholder certificate)."
        )

        @Argument(help: ArgumentHelp("The key pair (a PKCS#11 URI).", valueName: "URI"))
        var uri: String

        @Option(
            name: [.short, .customLong("out")], help: ArgumentHelp("Where to write the backup.", valueName: "FILE"))
        var output: String

        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let store = try global.store()
            let source = try global.passwordSecretSource()
            do throws(StoreError) {
                let result = try store.exportBackup(
                    try parseURI(uri), to: output, options: ExportOptions(),
                    pin: try global.pinProvider(store, uri: uri)
                ) { () throws(StoreError) in
                    try source.readNew(prompt: "Password for \(output): ")
                }
                if global.json { return try printJSON(result) }
                for warning in result.warnings { printNote("note: \(warning)") }
                print("Wrote \"\(result.label)\" to \(output).")
            } catch  where error.code == .notExportable {
                throw StoreError(
                    .notExportable,
                    error.reason
                        + ". A non-exportable enrollment key can never be backed up; if a backup is required, make the request again with --exportable"
                )
            }
        }
    }
}

extension KeySpec: ExpressibleByArgument {}
extension KeyUsage: ExpressibleByArgument {}
