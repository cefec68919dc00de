import ArgumentParser
import CertStore
import FoundationEssentials
import Glibc

extension CertBridge {
    struct Objects: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "objects",
            abstract: "List the objects on tokens: keys with every flag as read back, and certificates.",
            discussion: """
                Each key shows its class, label, id, type and size, the flags sensitive, extractable, \
                always-authenticate, never-extractable, always-sensitive, local and private, and a \
                verdict: exportable or non-exportable. Certificates show subject, issuer, serial, \
                validity, and the key they belong to (the same CKA_ID).

                On a terminal the objects are a table, one line each: label, class, key type and \
                size, security level, verdict and id. With --long (the default when the output is \
                not a terminal, so scripts that read the blocks keep working) each object is a block \
                with every flag, the verdict's reason, certificate names and dates, the key or \
                certificate it pairs with, and its URI. --table asks for the table anywhere. With \
                --json the same fields as --long, as a JSON array, printed as the objects are read.

                Private objects need a login: the PIN comes from --pin-source (default: asked on the \
                terminal). With --no-login only public objects are listed.

                Examples:
                  certbridge objects 'pkcs11:token=Backup' --pin-source env:TOKEN_PIN
                  certbridge objects 'pkcs11:token=Backup;type=private' --json \\
                    --pin-source fd:3
                """)

        @Argument(help: ArgumentHelp("Which token and objects (a PKCS#11 URI). Default: all tokens.", valueName: "URI"))
        var uri: String?

        @Flag(help: "Do not log in; list public objects only.")
        var noLogin = false

        @Flag(help: "A block per object with every flag, names, dates and URI (the default when not on a terminal).")
        var long = false

        @Flag(name: .customLong("table"), help: "One line per object (the default on a terminal).")
        var asTable = false

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if long && asTable { throw ValidationError("--long and --table: choose one") }
            if global.json && (long || asTable) {
                throw ValidationError("--json has every field already; drop --long/--table")
            }
        }

        func execute() throws(StoreError) {
            let uri = try uri.map { (text) throws(StoreError) in try parseURI(text) }
            let store = try global.store(for: uri)
            let pin = noLogin ? nil : try global.pinProvider(store, uri: self.uri)
            var count = 0
            let skipped: [StoreError]
            if global.json {
                var printer = JSONArrayPrinter()
                do throws(StoreError) {
                    skipped = try store.forEachObject(matching: uri, pin: pin) { printer.print($0) }
                } catch {
                    printer.abandon()
                    throw error
                }
                printer.finish()
            } else {
                let onTerminal = isatty(STDOUT_FILENO) == 1
                if asTable || (!long && onTerminal) {
                    var rows = ObjectTable(labelLimit: onTerminal ? 40 : nil)
                    defer { rows.finish() }
                    skipped = try store.forEachObject(matching: uri, pin: pin) { rows.add($0) }
                    count = rows.count
                } else {
                    skipped = try store.forEachObject(matching: uri, pin: pin) { object in
                        print(Self.render(object))
                        print()
                        count += 1
                    }
                }
                if count == 0 {
                    print(
                        noLogin
                            ? "No public objects. (Private keys need a login: drop --no-login.)"
                            : "No objects\(skipped.isEmpty ? "" : " on the tokens searched").")
                }
            }
            // A token passed over may hold more: the listing is incomplete, and the exit code says so.
            if let reasons = skipped.notSearched { throw StoreError(skipped.searchCode, reasons) }
            try store.checkIntegrity()
        }

        /// The level with Windows' word for it.
        static func securityWords(_ level: SecurityLevel) -> String {
            switch level {
            case .standard: "standard"
            case .medium: "medium (a yes/no approval at every use)"
            case .high: "high (a password at every use)"
            }
        }

        static func render(_ object: ObjectSummary) -> String {
            var rows: [[String]] = [[object.class + ":", object.label.isEmpty ? "(no label)" : object.label]]
            rows.append(["id:", object.id.isEmpty ? "(none)" : object.id])
            if let keyType = object.keyType {
                let size = [object.curve, object.keyBits.map { "\($0) bits" }].compactMap { $0 }.joined(separator: ", ")
                rows.append(["type:", size.isEmpty ? keyType : "\(keyType) (\(size))"])
            }
            if let flags = object.flags {
                rows.append(["flags:", flags.words.joined(separator: " ")])
                rows.append(["verdict:", "\(object.verdict ?? "?") — \(object.verdictReason ?? "")"])
                rows.append(["security:", Self.securityWords(object.securityLevel ?? .standard)])
                if let left = flags.triesLeft {
                    rows.append([
                        "tries left:",
                        left == 0
                            ? "0 (locked: the SO unlocks it with 'certbridge pin unlock-key')"
                            : "\(left) wrong passwords before the key locks",
                    ])
                }
            }
            if let usage = object.usage {
                rows.append(["usage:", usage.isEmpty ? "(none)" : usage.joined(separator: " ")])
            }
            if let cert = object.certificate {
                rows.append(["subject:", cert.subject])
                rows.append(["issuer:", cert.issuer])
                rows.append(["serial:", cert.serial])
                rows.append(["valid:", "\(cert.notBefore.formatted(.iso8601)) to \(cert.notAfter.formatted(.iso8601))"])
                if let category = cert.category { rows.append(["category:", category]) }
            }
            if let paired = object.pairedWith {
                rows.append([
                    object.class == "certificate" ? "key:" : "certificate:", paired.isEmpty ? "(same id)" : paired,
                ])
            }
            rows.append(["uri:", object.uri])
            return table(rows)
        }
    }
}
