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

        @OptionGroup var soPIN: SOPINOptions
        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let store = try global.store()
            let key = try store.unlockKey(
                matching: parseURI(uri), pin: global.pinProvider(store, uri: uri), soPIN: soPIN.provider())
            print("Key \"\(key.label)\" is unlocked: five wrong passwords again before it locks.")
        }
    }
}
