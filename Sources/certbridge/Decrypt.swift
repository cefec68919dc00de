import ArgumentParser
import CertStore
import FoundationEssentials
import Glibc

extension CertBridge {
    struct Decrypt: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "decrypt",
            abstract: "Decrypt a CMS file with a key on a token; the key never leaves the token.",
            discussion: """
                Reads CMS enveloped data as `openssl cms -encrypt` (or `openssl smime`) writes it: \
                DER, PEM or S/MIME. The content key is recovered on the token: RSA key transport \
                (PKCS#1 v1.5 or OAEP) with C_Decrypt, EC key agreement (ECDH with the sender's \
                ephemeral key, X9.63 KDF, AES key wrap) with C_DeriveKey. The content (AES-CBC, \
                AES-GCM, 3DES) is decrypted here, in memory.

                A key at security level High asks for its password once per decryption: from \
                --key-password-source, else from the PIN source, read again.

                Examples:
                  certbridge decrypt 'pkcs11:token=Backup;object=alice' \\
                    --in mail.p7m --out mail.txt
                  openssl cms -encrypt -in doc -out doc.p7m -outform DER -recip alice.pem
                """)

        @Argument(help: ArgumentHelp("The private key (a PKCS#11 URI with object= or id=).", valueName: "URI"))
        var uri: String

        @Option(
            name: .customLong("in"),
            help: ArgumentHelp("The CMS file (DER, PEM or S/MIME; - for standard input).", valueName: "FILE"))
        var input: String

        @Option(
            name: [.short, .customLong("out")],
            help: ArgumentHelp("Where to write the decrypted content (- for standard output).", valueName: "FILE"))
        var output: String

        @OptionGroup var keyPassword: KeyPasswordOptions
        @OptionGroup var global: GlobalOptions

        struct Result: Encodable {
            let key: String
            let keyRecovery: String
            let contentCipher: String
            let approval: String?
            let output: String
            let bytes: Int
        }

        func execute() throws(StoreError) {
            let file = try readInput(input)
            let key = try parseURI(uri)
            let (provider, attempts) = try keyPassword.provider(global: global, uri: uri)
            let store = try global.store()
            var decryption = try store.decrypt(
                file, with: key, pin: global.pinProvider(store, uri: uri), keyPassword: provider, attempts: attempts)
            defer { wipe(&decryption.plaintext) }
            if output == "-" {
                writeAll(STDOUT_FILENO, decryption.plaintext)
            } else {
                try writePrivateFile(output, decryption.plaintext)
            }
            let result = Result(
                key: decryption.key, keyRecovery: decryption.keyRecovery, contentCipher: decryption.contentCipher,
                approval: decryption.approval, output: output, bytes: decryption.plaintext.count)
            if global.json { return try printJSON(result) }
            let line =
                "Decrypted \(input) with \(decryption.key): \(decryption.keyRecovery), \(decryption.contentCipher); \(decryption.plaintext.count) bytes to \(output)"
            if output == "-" { printNote(line) } else { print(line) }
        }
    }
}

/// Writes a file that may hold secrets: created 0600, never through a symlink.
func writePrivateFile(_ path: String, _ bytes: [UInt8]) throws(StoreError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw StoreError(.failed, "cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var written = 0
    while written < bytes.count {
        let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw StoreError(.failed, "cannot write \(path): \(String(cString: strerror(errno)))") }
        written += n
    }
}
