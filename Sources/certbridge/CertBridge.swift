import ArgumentParser
import CertStore
import FoundationEssentials
import Glibc

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
            5 no such token, object or reader, 6 PIN locked. With --json, an error is also printed \
            on stdout as {"error": {"code": N, "message": "..."}}.

            Manual pages: certbridge(1), certbridge-COMMAND(1) for each command, and \
            certbridge-softtoken(5) for the software token. Shell completions for bash, zsh and fish \
            come with the package (or: certbridge --generate-completion-script bash|zsh|fish).
            """,
        version: BuildInfo.versionText,
        subcommands: [
            Tokens.self, Readers.self, Objects.self, Import.self, Export.self, CheckExportable.self, PFX.self,
            Sign.self, Verify.self, TestSign.self, Encrypt.self, Decrypt.self, Pin.self, Enroll.self, InstallCert.self,
            SoftTokenCommand.self, Audit.self,
        ])

    /// ArgumentParser's own usage errors exit with EX_USAGE (64); our documented code is 2.
    static func main() {
        // Before the first PIN or password is read: no core dump or same-user ptrace of a
        // process that holds them.
        SecretSource.protectProcess()
        do {
            var command = try parseAsRoot(OptionAliases.rewrite(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code.rawValue == 64 {
                let message = fullMessage(for: error).replacing("Error: ", with: "")
                printError(message)
                // A script that asked for JSON gets a usage error in the same shape as any other.
                if wantsJSON(CommandLine.arguments) { printJSONError(code: 2, message: message) }
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }

    /// `--json` among the options (not after `--`, where it would be an argument).
    static func wantsJSON(_ arguments: [String]) -> Bool {
        arguments.dropFirst().prefix { $0 != "--" }.contains("--json")
    }
}

extension BuildInfo {
    /// What `certbridge --version` prints: the release, and the commit when built from git.
    static var versionText: String { commit.isEmpty ? version : "\(version) (git \(commit))" }
}
