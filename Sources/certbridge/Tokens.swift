import ArgumentParser
import CertStore

extension CertBridge {
    struct Tokens: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "tokens",
            abstract: "List PKCS#11 modules, slots and tokens with their flags and PIN state.",
            discussion: """
                Every module registered with p11-kit is asked (or only those given with --module). \
                PIN state is ok, count-low, final-try, locked or not-initialized, as the token says.
                """)

        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let store = try global.store()
            let tokens = store.tokenSummaries()
            if global.json { return try printJSON(tokens) }
            for problem in store.problems { printNote("note: \(problem)") }
            for token in tokens where token.slotDescription.hasPrefix("refused: ") {
                printNote("note: token \(token.label) is \(token.slotDescription)")
            }
            let failures = store.integrityFailuresWithoutLogin()
            if tokens.isEmpty {
                print("No tokens present (modules asked: \(store.modulePaths.joined(separator: ", "))).")
                return
            }
            for (module, group) in Dictionary(grouping: tokens, by: \.module).sorted(by: { $0.key < $1.key }) {
                print("Module \(module.visible)")
                for token in group {
                    print(
                        table(
                            [
                                [
                                    "token:",
                                    token.pinState == "not-initialized" && token.label.isEmpty
                                        ? "(empty slot: no token initialized)" : token.label,
                                ],
                                ["slot:", "\(token.slot) (\(token.slotDescription))"],
                                ["manufacturer:", token.manufacturer],
                                ["model:", token.model],
                                ["serial:", token.serial],
                                ["PIN:", token.pinState],
                                ["flags:", token.flags.joined(separator: ", ")],
                                ["uri:", token.uri],
                            ], indent: "  "))
                    print()
                }
            }
            if !failures.isEmpty {
                let count = failures.count
                throw StoreError(
                    .failed,
                    "\(count) object\(count == 1 ? "" : "s") failed \(count == 1 ? "its" : "their") integrity check: "
                        + failures.joined(separator: "; "))
            }
        }
    }
}
