import ArgumentParser
import CertStore
import FoundationEssentials
import Glibc

extension CertBridge {
    struct InstallCert: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "install-cert",
            abstract: "Attach an issued certificate to the enrollment key pair it belongs to.",
            discussion: """
                The key pair is found by its public key on any token (or the one --token names). \
                The PIN from --pin-source goes only to the token --token names; a token found \
                without being named is asked for on the terminal, or named with the --token to \
                add. A certificate that matches no key pair exits 5. \
                The certificate is written with the key's CKA_ID and label, the chain from --chain-file \
                as authority certificates, and the pair is no longer pending. A certificate that is \
                already there is reported, not written twice.

                Example:
                  certbridge install-cert issued.pem --chain-file ca-chain.pem \\
                    --pin-source env:PIN
                """)

        @Argument(help: ArgumentHelp("The issued certificate (PEM or DER).", valueName: "FILE"))
        var certificate: String

        @Option(help: ArgumentHelp("The issuing CA certificates (PEM bundle or DER).", valueName: "FILE"))
        var chainFile: String?

        @Option(help: ArgumentHelp("Search only this token (a PKCS#11 URI).", valueName: "URI"))
        var token: String?

        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let certificates = try readCertificates(try readFile(certificate))
            guard let leaf = certificates.first else {
                throw StoreError(.failed, "\(certificate) holds no certificate")
            }
            let chainCertificates =
                try chainFile.map { (path) throws(StoreError) in try readCertificates(try readFile(path)) } ?? []
            let store = try global.store()
            let result = try store.installCertificate(
                leaf, chain: Array(certificates.dropFirst()) + chainCertificates,
                on: try token.map { (text) throws(StoreError) in try parseURI(text) },
                pin: try global.pinProvider(store, uri: token))
            if global.json { return try printJSON(result) }
            if result.installed {
                print("Installed the certificate for \"\(result.label)\" on \"\(result.token)\" (id \(result.id)).")
            } else {
                print("The certificate is already on \"\(result.token)\" with \"\(result.label)\"; nothing written.")
            }
            if result.placeholderRemoved {
                print(
                    "Removed the placeholder certificate the restored backup brought: the issued certificate replaces it."
                )
            }
            if result.chainAdded + result.chainAlreadyPresent > 0 {
                print("Chain: \(result.chainAdded) added, \(result.chainAlreadyPresent) already present.")
            }
        }
    }
}

/// Reads a whole file, with a clear error naming it. With `maxSize`, a larger file is refused
/// after reading at most one byte more than that (so a huge file or a device costs nothing).
func readFile(_ path: String, maxSize: Int? = nil) throws(StoreError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        let exists = errno != ENOENT
        throw StoreError(exists ? .failed : .notFound, exists ? "cannot read \(path)" : "\(path) does not exist")
    }
    defer { close(fd) }
    if let maxSize {
        var status = stat()
        if fstat(fd, &status) == 0, Int(status.st_size) > maxSize {
            throw StoreError(
                .failed, "\(path) is refused: it is \(status.st_size) bytes, more than the \(maxSize >> 20) MiB allowed"
            )
        }
    }
    guard let data = readAll(fd, limit: maxSize.map { $0 + 1 } ?? .max) else {
        throw StoreError(.failed, "cannot read \(path)")
    }
    if let maxSize, data.count > maxSize {
        throw StoreError(.failed, "\(path) is refused: it is more than the \(maxSize >> 20) MiB allowed")
    }
    return data
}
