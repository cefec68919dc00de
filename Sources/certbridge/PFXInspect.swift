import ArgumentParser
import CertStore
import FoundationEssentials

extension CertBridge {
    struct PFX: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pfx",
            abstract: "Look inside PFX/PKCS#12 backups.",
            subcommands: [Inspect.self])
    }
}

extension CertBridge.PFX {
    struct Inspect: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Show what a backup holds, how it is protected, and check its password (exit 4 if wrong).",
            discussion: """
                Shows the key type and size, every key entry when there are several (a keystore \
                with two aliases: each with its friendly name and certificate), each certificate (leaf, then the chain in path order, \
                then any others) with subject, issuer and validity, the friendly name, the \
                encryption and MAC algorithms with their iteration counts, and warnings for weak \
                choices (RC2-40, 3DES, a SHA-1 MAC, few iterations).
                """)

        @Argument(help: ArgumentHelp("The PFX or P12 backup.", valueName: "FILE"))
        var file: String

        @OptionGroup var backupFile: BackupFileOptions

        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            let description = BackupDescription(try backupFile.open(file, global: global))
            if global.json { return try printJSON(description) }
            print(
                table([
                    ["file:", file],
                    ["key:", "\(description.keyType), \(description.keyBits) bits"],
                    ["friendly name:", description.friendlyName ?? "(none)"],
                    ["local key id:", description.localKeyID ?? "(none)"],
                ]))
            if description.keys.count > 1 || description.keysWithoutCertificate > 0 {
                print("\nKey entries (an import places every one, or the one --friendly-name picks):")
                for (index, key) in description.keys.enumerated() {
                    print(
                        table(
                            [
                                ["\(index + 1).", key.friendlyName.map { "\"\($0)\"" } ?? "(no friendly name)"],
                                ["key:", "\(key.keyType), \(key.keyBits) bits"],
                                ["certificate:", key.subject],
                                ["chain:", "\(key.chainLength) certificate(s)"],
                            ], indent: "  "))
                }
                if description.keysWithoutCertificate > 0 {
                    print(
                        "  and \(description.keysWithoutCertificate) private key(s) without a certificate, which an import cannot place"
                    )
                }
            }
            print("\nCertificates:")
            for certificate in description.certificates {
                print(
                    table(
                        [
                            ["\(certificate.role):", certificate.subject],
                            ["issuer:", certificate.issuer],
                            ["serial:", certificate.serial],
                            [
                                "valid:",
                                "\(certificate.notBefore.formatted(.iso8601)) to \(certificate.notAfter.formatted(.iso8601))",
                            ],
                        ], indent: "  "))
            }
            print("\nProtection:")
            for part in description.protection { print("  \(part.visible)") }
            print("  MAC: \((description.mac ?? "none").visible)")
            if !description.warnings.isEmpty {
                print("\nWarnings:")
                for warning in description.warnings { print("  - \(warning)") }
            }
        }
    }
}
