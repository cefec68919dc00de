import ArgumentParser
import CertStore

extension CertBridge.Pin {
    struct UnlockKey: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "unlock-key",
            abstract: "Unlock a key that five wrong passwords locked (the software token), with the SO PIN.",
            discussion: """
                A High-level key on the software token counts wrong passwords like a PIN: five in a \
                row lock it, whichever program asked. The user PIN comes from --pin-source, the \
                security officer's from --so-pin-source. Exit 4 for a wrong SO PIN, 6 when it is locked.

                Example:
                  certbridge pin unlock-key 'pkcs11:token=Backup;object=alice' \\
                    --pin-source tty --so-pin-source tty
                """)

        @Argument(help: ArgumentHelp("The key (a PKCS#11 URI with object= or id=).", valueName: "URI"))
        var uri: String

        @Option(
            help: ArgumentHelp(
                "Where the security officer's PIN comes from: tty, file:PATH, env:NAME or fd:N.", valueName: "SRC"))
        var soPinSource: String = "tty"

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            do { _ = try SecretSource(soPinSource) } catch { throw ValidationError(error.reason) }
        }

        func execute() throws(StoreError) {
            let store = try global.store()
            let soSource = try SecretSource(soPinSource)
            let key = try store.unlockKey(
                matching: parseURI(uri), pin: global.pinProvider(store, uri: uri),
                soPIN: { token throws(StoreError) in
                    try soSource.read(prompt: "SO PIN for token \"\(token.info.label)\": ")
                })
            print("Key \"\(key.label)\" is unlocked: five wrong passwords again before it locks.")
        }
    }
}
