import Foundation
import ArgumentParser
import CertStore

@main
struct CertBridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certbridge",
        abstract: "A certificate store for smart cards, HSMs and a software token.",
        discussion: """
        Tokens and objects are named by PKCS#11 URIs (RFC 7512), e.g.
          pkcs11:token=Backup;object=alice;type=private

        PINs and passwords never come from the command line: use --pin-source and \
        --password-source with tty (the default: asked without echo), file:PATH, env:NAME or fd:N.

        Exit codes: 0 ok, 1 error, 2 usage, 3 not exportable, 4 wrong PIN or password, \
        5 no such token, object or reader, 6 PIN locked.
        """,
        subcommands: [Tokens.self, Readers.self, Objects.self, Import.self, Export.self, CheckExportable.self, PFX.self,
                      Sign.self, Verify.self, TestSign.self, Encrypt.self, Decrypt.self, Pin.self, Enroll.self, InstallCert.self, SoftTokenCommand.self])

    /// ArgumentParser's own usage errors exit with EX_USAGE (64); our documented code is 2.
    static func main() {
        // Before the first PIN or password is read: no core dump or same-user ptrace of a
        // process that holds them.
        SecretMemory.protectProcess()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code.rawValue == 64 {
                printError(fullMessage(for: error).replacingOccurrences(of: "Error: ", with: ""))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
