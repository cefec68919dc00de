import ArgumentParser
import CertStore
import Dispatch
import FoundationEssentials
import Glibc

extension CertBridge {
    struct Readers: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "readers",
            abstract: "List PC/SC smart-card readers, their cards, and the PKCS#11 token each card is.",
            discussion: """
                Each reader pcscd knows, whether a card is in it, the card's ATR (and its kind where \
                the ATR is a known one), and the PKCS#11 slots of the loaded modules that sit in the \
                reader (OpenSC and ykcs11 name their slots after the reader), with the token's URI \
                to pass to import, objects or sign.

                With --watch, one line per change until interrupted (Ctrl-C): cards inserted and \
                removed, readers plugged in and out. It starts with what is present now. With \
                --json each line is one JSON object (JSON lines), written as it happens.

                Exit 5 when pcscd is not running.

                Examples:
                  certbridge readers
                  certbridge readers --json --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
                  certbridge readers --watch --json | while read -r line; do ...; done
                """)

        @Flag(help: "Report card and reader changes as they happen, until interrupted.")
        var watch = false

        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            if watch { return try watchChanges() }
            var readers = try Store.readers()
            // The slots come from the PKCS#11 modules; a machine without any still lists its readers.
            var notes: [String] = []
            do throws(StoreError) {
                let store = try global.store()
                readers = store.tokens(in: readers)
                notes = store.problems
            } catch {
                notes = ["no PKCS#11 token information: \(error.reason)"]
            }
            if global.json { return try printJSON(readers) }
            for note in notes { printNote("note: \(note)") }
            if readers.isEmpty {
                print("No smart-card readers (pcscd is running but knows none; plug one in, and check the udev rules).")
                return
            }
            for reader in readers {
                print("Reader \(reader.reader.visible)")
                var rows: [[String]] = [
                    ["card:", reader.cardPresent ? (reader.card ?? "present (unknown kind)") : "none"]
                ]
                if let atr = reader.atr { rows.append(["ATR:", atr]) }
                if reader.inUse { rows.append(["in use:", "yes (another program is connected)"]) }
                if reader.tokens.isEmpty {
                    rows.append([
                        "token:", reader.cardPresent ? "(no loaded PKCS#11 module offers a slot in this reader)" : "-",
                    ])
                }
                for slot in reader.tokens {
                    let module = URL(fileURLWithPath: slot.module).lastPathComponent
                    rows.append([
                        "token:", "\(slot.token.map { "\"\($0)\"" } ?? "(no token)") — \(module) slot \(slot.slot)",
                    ])
                    if let uri = slot.uri { rows.append(["uri:", uri]) }
                }
                print(table(rows, indent: "  "))
                print()
            }
        }

        /// One line per change, flushed at once so a pipe sees it as it happens.
        private func watchChanges() throws(StoreError) {
            let json = global.json
            let outcome = WatchOutcome()
            let done = DispatchSemaphore(value: 0)
            Task {
                do {
                    for try await change in Store.readerChanges() {
                        Self.printLine(change, json: json)
                    }
                } catch {
                    outcome.error = error as? StoreError ?? StoreError(.failed, "\(error)")
                }
                done.signal()
            }
            done.wait()
            if let error = outcome.error { throw error }
        }

        private static func printLine(_ change: ReaderChange, json: Bool) {
            let line: String
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                line =
                    (try? encoder.encode(change)).map {
                        UntrustedText.escapingJSON(String(decoding: $0, as: UTF8.self))
                    } ?? "{}"
            } else {
                let time = Date().formatted(.iso8601)
                var parts = [time, change.event, change.reader]
                if let atr = change.atr { parts.append(atr) }
                if let card = change.card { parts.append(card) }
                line = parts.map(\.visible).joined(separator: "  ")
            }
            writeAll(STDOUT_FILENO, Array((line + "\n").utf8))
        }
    }
}

/// How a watch ended, handed from the watching task to the waiting command.
private final class WatchOutcome: @unchecked Sendable {
    // @unchecked: written once by the task before it signals, read after the wait.
    var error: StoreError?
}
