import ArgumentParser
import CertStore

extension CertBridge {
    struct SoftTokenCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "softtoken",
            abstract: "CertBridge's software token: the store's token when no hardware is present.",
            discussion: """
                The software token is a PKCS#11 module (\(SoftToken.libraryName)) that keeps keys \
                encrypted under its PIN in $CERTBRIDGE_SOFTTOKEN_DIR (default \
                ~/.local/share/certbridge/softtoken). It enforces the same policy as a card: \
                non-exportable keys never leave it, Medium-level keys need a yes and High-level keys a \
                password at every use (their own, if given at import, else the token PIN). A program \
                that does not ask itself gets the module's own pinentry prompt ($CERTBRIDGE_PINENTRY, \
                else pinentry); a token is strict PKCS#11 (no prompt) with a file named 'strict' in \
                its directory or with CERTBRIDGE_SOFTTOKEN_STRICT=1.
                """,
            subcommands: [Init.self])
    }
}

extension CertBridge.SoftTokenCommand {
    struct Init: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Make a software token (with a user PIN and a security officer PIN).",
            discussion: """
                The user PIN comes from --new-pin-source and the SO PIN (which unblocks a locked \
                user PIN with 'certbridge pin unblock') from --so-pin-source; on a terminal each is \
                asked twice. Five wrong PINs in a row lock it.

                Example:
                  certbridge softtoken init --label Backup --new-pin-source tty \\
                    --so-pin-source tty
                """)

        @Option(help: ArgumentHelp("The new token's label.", valueName: "L"))
        var label: String = SoftToken.defaultLabel

        @Option(
            help: ArgumentHelp(
                "Where the new SO PIN comes from: tty (asked twice), file:PATH, env:NAME or fd:N.", valueName: "SRC"))
        var soPinSource: String = "tty"

        @OptionGroup var newPIN: NewPINOptions
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try validateSecretSource(soPinSource)
            guard !label.isEmpty, label.utf8.count <= 32 else {
                throw ValidationError("a token label has 1 to 32 bytes")
            }
        }

        func execute() throws(StoreError) {
            let store = try global.store()
            let token = try makeSoftToken(
                store, label: label, soPIN: try SecretSource(soPinSource),
                userPIN: try SecretSource(newPIN.newPinSource))
            if global.json { return try printJSON(TokenSummary(token)) }
            print("Made the software token \"\(token.label)\" (serial \(token.serial)): \(token.uri)")
        }
    }
}

/// Makes a software token with PINs from the sources: the SO PIN first, so that a person sees
/// which PIN unblocks the other. On a terminal the rules come before the first question, and a
/// PIN that breaks them or a confirmation that differs is asked again (3 times at most).
func makeSoftToken(_ store: Store, label: String, soPIN: SecretSource, userPIN: SecretSource) throws(StoreError)
    -> Token
{
    let lengths = SoftToken.pinLengths
    let rule = "a software token PIN has \(lengths.lowerBound) to \(lengths.upperBound) characters"
    if soPIN == .tty || userPIN == .tty {
        SecretSource.tellTerminal(
            """
            The software token "\(label)" gets two PINs, each typed twice: the SO PIN, which unblocks \
            the user PIN after \(SoftToken.pinTries) wrong tries, and the user PIN, which unlocks its keys. \
            Each has \(lengths.lowerBound) to \(lengths.upperBound) characters.

            """)
    }
    let so = try soPIN.readNew(
        prompt: "New SO PIN for the software token \"\(label)\" (unblocks the user PIN): ", length: lengths, rule: rule)
    let user = try userPIN.readNew(prompt: "New PIN for the software token \"\(label)\": ", length: lengths, rule: rule)
    return try store.createSoftToken(label: label, soPIN: so, userPIN: user)
}
