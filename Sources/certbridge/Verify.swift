import ArgumentParser
import CertStore
import FoundationEssentials

extension CertBridge {
    struct Verify: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check a signature with a key's certificate (or its public key object).",
            discussion: """
                The public key is the certificate with the same id as the key the URI names, else \
                the token's public key object. Verification is done here, in software, with the \
                semantics of openssl dgst -verify (PSS: MGF1 with the same digest, salt as long as \
                the digest). Exit 0 when the signature is valid, 1 when it is not.

                A certificate or public key object can be replaced by anyone who can write to the \
                token, so when the token holds the private key with the same id, the public key is \
                first compared with the key's own public half (or, where the token hides that, with \
                the public key object of that id): a certificate that does not belong to the key is \
                an error, exit 1. Private keys are private objects, so the check logs in (the PIN \
                from --pin-source); nothing is signed, so no key approval is asked.

                Example:
                  certbridge verify 'pkcs11:token=Backup;object=alice' \\
                    --in doc.pdf --sig doc.sig
                """)

        @Argument(help: ArgumentHelp("The key or certificate (a PKCS#11 URI).", valueName: "URI"))
        var uri: String

        @Option(
            name: .customLong("in"),
            help: ArgumentHelp("The file that was signed (- for standard input).", valueName: "FILE"))
        var input: String

        @Option(name: .customLong("sig"), help: ArgumentHelp("The signature.", valueName: "SIG"))
        var signature: String

        @Option(
            help: ArgumentHelp("The signature mechanism (default: from the key type, as sign chooses).", valueName: "M")
        )
        var mechanism: String?

        @Option(help: ArgumentHelp("der or raw (ECDSA only; default der).", valueName: "FORMAT"))
        var format: SignatureFormat = .der

        @OptionGroup var global: GlobalOptions

        struct Result: Encodable {
            let valid: Bool
            let mechanism: String
            let publicKeyFrom: String
        }

        func execute() throws(StoreError) {
            let uri = try parseURI(self.uri)
            let algorithm = try mechanism.map { (name) throws(StoreError) in try SignatureAlgorithm(name: name) }
            let message = try readInput(input)
            let signatureBytes = try readInput(signature)
            let store = try global.store()
            let (publicKey, source) = try store.publicKey(matching: uri, pin: global.pinProvider(store, uri: self.uri))
            let used = algorithm ?? publicKey.kind.defaultAlgorithm
            let valid = try SignatureVerification.isValid(
                signatureBytes, of: message, algorithm: used, format: format, publicKey: publicKey)
            if global.json {
                try printJSON(Result(valid: valid, mechanism: used.name, publicKeyFrom: source))
            } else if valid {
                print(
                    "Signature OK: \(signature) is a valid \(used.name) signature of \(input) (checked with the \(source))."
                )
            }
            if !valid {
                throw StoreError(
                    .failed,
                    "signature NOT valid: \(signature) is not a \(used.name) signature of \(input) under the \(source) of \(self.uri)"
                )
            }
        }
    }
}
