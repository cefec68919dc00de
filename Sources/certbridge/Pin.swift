import ArgumentParser
import CertStore

extension CertBridge {
    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pin",
            abstract: "Change or unblock a token PIN.",
            subcommands: [Change.self, Unblock.self, UnlockKey.self])
    }
}

/// Where a new PIN comes from; on a terminal it is asked twice.
struct NewPINOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Where the new PIN comes from: tty (asked twice), file:PATH, env:NAME or fd:N.", valueName: "SRC"))
    var newPinSource: String = "tty"

    func validate() throws { try validateSecretSource(newPinSource) }

    func provider(_ prompt: String) throws(StoreError) -> Store.PINProvider {
        let source = try SecretSource(newPinSource)
        return { token throws(StoreError) in try source.readNew(prompt: "\(prompt) for token \"\(token.label)\": ")
        }
    }
}

/// Where the security officer's PIN comes from, for the commands that need it to act on
/// a token they already reach with the user PIN or none (`pin unblock`, `pin unlock-key`).
struct SOPINOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Where the security officer's PIN comes from: tty, file:PATH, env:NAME or fd:N.", valueName: "SRC"))
    var soPinSource: String = "tty"

    func validate() throws { try validateSecretSource(soPinSource) }

    /// A provider that reads the SO PIN from the source, asking for it by the token's label.
    func provider() throws(StoreError) -> Store.PINProvider {
        let source = try SecretSource(soPinSource)
        return { token throws(StoreError) in try source.read(prompt: "SO PIN for token \"\(token.label)\": ") }
    }
}

extension CertBridge.Pin {
    struct Change: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "change",
            abstract: "Change the user PIN (or with --so the security officer's).",
            discussion: """
                The current PIN comes from --pin-source, the new one from --new-pin-source (asked \
                twice on a terminal). Exit 4 for a wrong current PIN, 6 when it is locked.

                Example:
                  certbridge pin change 'pkcs11:token=Backup' --pin-source file:old.txt \\
                    --new-pin-source file:new.txt
                """)

        @Argument(help: ArgumentHelp("The token (a PKCS#11 URI).", valueName: "URI"))
        var uri: String

        @Flag(help: "Change the security officer's PIN instead of the user's.")
        var so = false

        @OptionGroup var newPIN: NewPINOptions
        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let store = try global.store()
            let token = try store.token(matching: parseURI(uri))
            let source = try global.pinSource(uri: uri)
            let who = so ? "SO PIN" : "PIN"
            try store.changePIN(
                on: token, role: so ? .securityOfficer : .user,
                old: { token throws(StoreError) in
                    try source.read(prompt: "Current \(who) for token \"\(token.label)\": ")
                },
                new: newPIN.provider("New \(who)"))
            print("The \(so ? "security officer" : "user") PIN of \"\(token.label)\" is changed.")
        }
    }

    struct Unblock: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "unblock",
            abstract: "Set a new user PIN with the security officer's PIN (unblocks a locked PIN).",
            discussion: """
                The SO PIN comes from --so-pin-source, the new user PIN from --new-pin-source (asked \
                twice on a terminal). Exit 4 for a wrong SO PIN, 6 when the SO PIN is locked.

                Example:
                  certbridge pin unblock 'pkcs11:token=Backup' --so-pin-source env:SO_PIN \\
                    --new-pin-source tty
                """)

        @Argument(help: ArgumentHelp("The token (a PKCS#11 URI).", valueName: "URI"))
        var uri: String

        @OptionGroup var soPIN: SOPINOptions
        @OptionGroup var newPIN: NewPINOptions
        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let store = try global.store()
            let token = try store.token(matching: parseURI(uri))
            try store.unblockPIN(on: token, soPIN: soPIN.provider(), newPIN: newPIN.provider("New user PIN"))
            print("The user PIN of \"\(token.label)\" is set; it is unblocked.")
        }
    }
}
