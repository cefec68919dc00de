import ArgumentParser
import CertStore
import FoundationEssentials
import Glibc

/// Options every subcommand accepts, so a script can pass one set to all of them.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("module"),
        help: ArgumentHelp(
            "A PKCS#11 module to use, by path (repeatable). Default: the modules registered with p11-kit, and the software token.",
            valueName: "PATH"))
    var modules: [String] = []

    @Option(
        help: ArgumentHelp(
            "Where the PIN of the token the command names comes from: tty, file:PATH, env:NAME or fd:N. Another token is asked for on the terminal, never given this PIN.",
            valueName: "SRC"))
    var pinSource: String?

    @Option(
        help: ArgumentHelp(
            "Where a PFX or key password comes from: tty, file:PATH, env:NAME or fd:N.", valueName: "SRC"))
    var passwordSource: String?

    @Flag(help: "Print JSON for scripts instead of text.")
    var json = false

    func validate() throws {
        try validateSecretSource(pinSource)
        try validateSecretSource(passwordSource)
    }

    /// The store over the chosen modules; a URI whose module-path or module-name rules some
    /// registered modules out leaves them unloaded (see `Store.init`). What the store does of its
    /// own accord (rolling back an interrupted import) is said on stderr.
    func store(for uri: PKCS11URI? = nil) throws(StoreError) -> Store {
        let store = try Store(modulePaths: modules, for: uri)
        store.report = { printNote($0) }
        return store
    }

    /// Where the PIN of the token a URI names comes from: the URI's own `pin-source` (RFC 7512:
    /// for that token alone), else `--pin-source`, else the terminal.
    func pinSource(uri: String? = nil) throws(StoreError) -> SecretSource {
        if let uri, !uri.isEmpty, let fromURI = try uriArgument(uri).pinSource {
            return try SecretSource(uriPINSource: fromURI)
        }
        if let pinSource { return try SecretSource(pinSource) }
        return .tty
    }

    /// Where the PFX or key password comes from: `--password-source`, else the terminal.
    func passwordSecretSource() throws(StoreError) -> SecretSource {
        try passwordSource.map { (text) throws(StoreError) in try SecretSource(text) } ?? .tty
    }

    /// The token an import or key generation goes to (see `Store.targetToken`). On a terminal,
    /// when no token is present at all, the software token is made on the spot: the fallback
    /// that lets a machine with no hardware work as a store.
    func targetToken(_ store: Store, uri: String?) throws(StoreError) -> Token {
        let parsed = try uri.map { (text) throws(StoreError) in try uriArgument(text) }
        do throws(StoreError) {
            let target = try store.targetToken(parsed)
            // Chosen without being named: say which, so it is never a silent choice.
            if uri == nil {
                printNote("no --token given: using \"\(target.label)\" (\(target.uri)), the only token present")
            }
            return target
        } catch
            where error.code == .notFound && uri == nil && store.canCreateSoftToken && isatty(STDIN_FILENO) == 1
        {
            printNote("no token is present: making the software token \"\(SoftToken.defaultLabel)\"")
            return try makeSoftToken(
                store, label: SoftToken.defaultLabel, soPIN: .tty, userPIN: try pinSource(uri: uri))
        }
    }

    /// A PIN provider that reads the PIN source only for the token the URI names (nil: the
    /// only token present); any other token is asked for on the terminal by name, or skipped.
    func pinProvider(_ store: Store, uri: String? = nil) throws(StoreError) -> Store.PINProvider {
        let named = store.namedToken(try uri.map { (text) throws(StoreError) in try uriArgument(text) })
        return try pinProvider(for: named, uri: uri)
    }

    /// A PIN provider for the token a command chose (the target of an import or key generation).
    func pinProvider(for token: Token?, uri: String? = nil) throws(StoreError) -> Store.PINProvider {
        PINRouting(named: token, source: try pinSource(uri: uri), terminal: isatty(STDIN_FILENO) == 1).provider
    }
}

/// A secret source option (nil: not given) checked while parsing, so a misspelt one is a usage
/// error before any token is touched.
func validateSecretSource(_ text: String?) throws {
    guard let text else { return }
    do { _ = try SecretSource(text) } catch { throw ValidationError(error.reason) }
}
