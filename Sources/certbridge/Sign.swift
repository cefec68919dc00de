import ArgumentParser
import CertStore
import FoundationEssentials
import Glibc

/// Where the password that approves each use of a High-level key comes from.
struct KeyPasswordOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Where the password that approves each use of a High-level key comes from: tty, file:PATH, env:NAME or fd:N. Default: the token PIN's source. A terminal is asked at every use; a file or variable is read again; the line a descriptor gives serves the whole command.",
            valueName: "SRC"))
    var keyPasswordSource: String?

    func validate() throws { try validateSecretSource(keyPasswordSource) }

    /// The provider a Signer calls for every use of a High-level key: it asks a terminal anew
    /// each time (three tries), reads a file or variable anew, and remembers a descriptor's one
    /// line for the rest of the command.
    func provider(global: GlobalOptions, uri: String) throws(StoreError) -> (KeyPasswordProvider, attempts: Int) {
        let source: SecretSource
        if let keyPasswordSource {
            source = try SecretSource(keyPasswordSource)
        } else {
            source = try global.pinSource(uri: uri)
        }
        let ownPassword = keyPasswordSource != nil
        let pinSource = try global.pinSource(uri: uri)
        // A descriptor gives its line once (a second read is at its end): what it gave serves
        // every use in this command. A terminal asks anew each time; a file or variable is read anew.
        let remembered = RememberedSecret()
        let provider: KeyPasswordProvider = { request throws(StoreError) in
            if request.key.securityLevel == .medium {
                guard
                    try Confirmation.ask("Allow this use of key \"\(request.key.label)\" on \"\(request.tokenLabel)\"?")
                else {
                    throw StoreError(.failed, "the use of key \"\(request.key.label)\" was not approved")
                }
                return try pinSource.read(prompt: "PIN for token \"\(request.tokenLabel)\": ")
            }
            let prompt = Self.prompt(key: request.key.label, token: request.tokenLabel, ownPassword: ownPassword)
            guard case .fileDescriptor = source else {
                return try source.read(prompt: (request.attempt > 1 ? "Wrong. " : "") + prompt)
            }
            return try remembered.secret { () throws(StoreError) in try source.read(prompt: prompt) }
        }
        return (provider, source == .tty ? 3 : 1)
    }

    /// The one wording of the question for the secret that approves a use of a key: which
    /// secret (the key's own password, or the token PIN), for which key, on which token.
    static func prompt(key: String, token: String?, ownPassword: Bool) -> String {
        "\(ownPassword ? "Key password" : "Token PIN") to use the key \"\(key)\"\(token.map { " on \"\($0)\"" } ?? ""): "
    }
}

/// A secret read once and handed out as fresh copies (each wiped by its user); the original is
/// wiped when the command ends with this object.
final class RememberedSecret {
    private var secret = PIN(bytes: [])
    private var read = false

    func secret(read source: () throws(StoreError) -> PIN) throws(StoreError) -> PIN {
        if !read {
            secret = try source()
            read = true
        }
        var copy = secret.withUnsafeBytes { [UInt8]($0) }
        return PIN(wiping: &copy)
    }
}

extension StoreCommand {
    /// The signer for a key URI, with the token PIN and key password sources from the options.
    func signer(for text: String, store: Store, keyPassword: KeyPasswordOptions) throws(StoreError) -> Signer {
        let uri = try parseURI(text)
        let (provider, attempts) = try keyPassword.provider(global: global, uri: text)
        return try Signer(
            store: store, key: uri, pin: global.pinProvider(store, uri: text), keyPassword: provider, attempts: attempts
        )
    }
}

/// Reads a whole file, or standard input for `-`.
func readInput(_ path: String) throws(StoreError) -> [UInt8] {
    if path == "-" {
        guard let data = readAll(STDIN_FILENO) else { throw StoreError(.failed, "cannot read standard input") }
        return data
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw StoreError(.notFound, "cannot read \(path)")
    }
    return [UInt8](data)
}

extension CertBridge {
    struct Sign: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign",
            abstract: "Sign a file with a key on a token; the key never leaves the token.",
            discussion: """
                Mechanisms: rsa-pkcs-sha256|384|512 (PKCS#1 v1.5), rsa-pss-sha256|384|512 (MGF1 with \
                the same digest, salt as long as the digest), ecdsa-sha256|384|512, eddsa. Default: \
                rsa-pkcs-sha256 for RSA, ECDSA with the digest that fits the curve (P-256: sha256, \
                P-384: sha384, P-521: sha512), eddsa for Ed25519. When the token lacks the combined \
                mechanism the digest is computed here and the token signs it.

                ECDSA signatures are written as DER (what openssl dgst -verify reads); --format raw \
                writes the token's r||s.

                A key at security level High (CKA_ALWAYS_AUTHENTICATE) asks for its password on \
                every use: from --key-password-source, else from the PIN source, read again.

                Examples:
                  certbridge sign 'pkcs11:token=Backup;object=alice' --in doc.pdf \\
                    --out doc.sig --pin-source env:PIN
                  certbridge sign 'pkcs11:token=Backup;object=ec' --in doc --out doc.sig \\
                    --mechanism ecdsa-sha384
                """)

        @Argument(help: ArgumentHelp("The private key (a PKCS#11 URI with object= or id=).", valueName: "URI"))
        var uri: String

        @Option(
            name: .customLong("in"), help: ArgumentHelp("The file to sign (- for standard input).", valueName: "FILE"))
        var input: String

        @Option(
            name: [.short, .customLong("out")], help: ArgumentHelp("Where to write the signature.", valueName: "SIG"))
        var output: String

        @Option(
            help: ArgumentHelp(
                "The signature mechanism, e.g. rsa-pss-sha256 (default: from the key type).", valueName: "M"))
        var mechanism: String?

        @Option(help: ArgumentHelp("der or raw (ECDSA only; default der).", valueName: "FORMAT"))
        var format: SignatureFormat = .der

        @OptionGroup var keyPassword: KeyPasswordOptions
        @OptionGroup var global: GlobalOptions

        struct Result: Encodable {
            let key: String
            let mechanism: String
            let format: String
            let signature: String
            let bytes: Int
        }

        func execute() throws(StoreError) {
            let algorithm = try mechanism.map { (name) throws(StoreError) in try SignatureAlgorithm(name: name) }
            let message = try readInput(input)
            let store = try global.store()
            let signer = try signer(for: uri, store: store, keyPassword: keyPassword)
            if let refusal = try store.signingRefusal(for: signer.key) { throw StoreError(.usage, refusal) }
            let used = algorithm ?? signer.key.kind.defaultAlgorithm
            let signature = try signer.sign(message, algorithm: used, format: format)
            guard FileManager.default.createFile(atPath: output, contents: Data(signature)) else {
                throw StoreError(.failed, "cannot write the signature to \(output)")
            }
            let isECDSA = if case .ecdsa = used { true } else { false }
            let result = Result(
                key: signer.key.uri.description, mechanism: used.name,
                format: isECDSA ? format.rawValue : "raw", signature: output, bytes: signature.count)
            if global.json { return try printJSON(result) }
            print(
                "Signed \(input) with \"\(signer.key.label)\" (\(signer.key.kind.description), \(used.name)): \(signature.count) bytes to \(output)"
            )
        }
    }
}

extension SignatureFormat: ExpressibleByArgument {}
