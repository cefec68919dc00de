import ArgumentParser
import CertStore
import FoundationEssentials

extension CertBridge {
    struct Encrypt: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "encrypt",
            abstract: "Encrypt a file to certificates (CMS enveloped data, as openssl cms -encrypt).",
            discussion: """
                Each --to is a certificate file (PEM or DER) or a PKCS#11 URI naming a certificate \
                or a key with one on a token. Only public keys are used: no PIN is needed unless the \
                token hides its certificates. RSA recipients get the content key by key transport \
                (--rsa-padding pkcs1 or oaep), EC recipients by ECDH key agreement. \
                `openssl cms -decrypt` and `certbridge decrypt` read the result.

                Examples:
                  certbridge encrypt --to alice.pem --in doc --out doc.p7m
                  certbridge encrypt --to 'pkcs11:token=Backup;object=alice' \\
                    --in doc --out doc.p7m --format pem
                """)

        @Option(
            help: ArgumentHelp(
                "A recipient: a certificate file or a PKCS#11 URI (repeatable).", valueName: "CERT-or-URI"))
        var to: [String]

        @Option(
            name: .customLong("in"),
            help: ArgumentHelp("The file to encrypt (- for standard input).", valueName: "FILE"))
        var input: String

        @Option(
            name: [.short, .customLong("out")], help: ArgumentHelp("Where to write the CMS file.", valueName: "FILE"))
        var output: String

        @Option(
            help: ArgumentHelp(
                "The content cipher: \(EnvelopeCipher.allCases.map(\.rawValue).joined(separator: ", ")) (default aes-256-cbc).",
                valueName: "CIPHER"))
        var cipher: EnvelopeCipher = .aes256CBC

        @Option(help: ArgumentHelp("RSA key transport padding: pkcs1 or oaep (default pkcs1).", valueName: "PADDING"))
        var rsaPadding: KeyTransportPadding = .pkcs1

        @Option(help: ArgumentHelp("der or pem (default der).", valueName: "FORMAT"))
        var format: EnvelopeFormat = .der

        @OptionGroup var global: GlobalOptions

        enum EnvelopeFormat: String, ExpressibleByArgument { case der, pem }

        struct Result: Encodable {
            let recipients: Int
            let cipher: String
            let rsaPadding: String
            let output: String
            let bytes: Int
        }

        func validate() throws {
            if to.isEmpty { throw ValidationError("name at least one recipient with --to") }
        }

        func execute() throws(StoreError) {
            var certificates: [[UInt8]] = []
            var store: Store?
            for recipient in to {
                if recipient.hasPrefix("pkcs11:") {
                    if store == nil { store = try global.store() }
                    certificates.append(
                        try store!.certificate(
                            matching: parseURI(recipient), pin: global.pinProvider(store!, uri: recipient)))
                } else {
                    guard let first = try readCertificates(readInput(recipient)).first else {
                        throw StoreError(.failed, "\(recipient) holds no certificate")
                    }
                    certificates.append(first)
                }
            }
            let content = try readInput(input)
            var envelope = try Store.encrypt(content, to: certificates, cipher: cipher, padding: rsaPadding)
            if format == .pem {
                let base64 = Data(envelope).base64EncodedString(options: [
                    .lineLength64Characters, .endLineWithLineFeed,
                ])
                envelope = Array("-----BEGIN CMS-----\n\(base64)\n-----END CMS-----\n".utf8)
            }
            guard FileManager.default.createFile(atPath: output, contents: Data(envelope)) else {
                throw StoreError(.failed, "cannot write \(output)")
            }
            let result = Result(
                recipients: certificates.count, cipher: cipher.rawValue, rsaPadding: rsaPadding.rawValue,
                output: output, bytes: envelope.count)
            if global.json { return try printJSON(result) }
            print(
                "Encrypted \(input) to \(certificates.count) recipient(s) with \(cipher.rawValue): \(envelope.count) bytes to \(output)"
            )
        }
    }
}

extension EnvelopeCipher: ExpressibleByArgument {}
extension KeyTransportPadding: ExpressibleByArgument {}
