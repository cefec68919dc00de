import ArgumentParser
import CertStore

/// How a PFX backup named on the command line is read: size and work limits against hostile
/// files, then its password, then `Store.openBackup`. Shared by `import` and `pfx inspect`.
struct BackupFileOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Refuse a PFX whose MAC or key derivation asks for more iterations than this (before any is done).",
            valueName: "N"))
    var maxIterations: Int64 = Store.defaultMaxIterations

    func validate() throws {
        guard maxIterations >= 1 else { throw ValidationError("--max-iterations must be at least 1") }
    }

    /// How many times a person at the terminal may type a PFX password (as Windows' wizard).
    static let terminalAttempts = 3

    /// Reads `file` (at most 16 MiB, checked before reading), asks its password, opens it. A
    /// wrong password typed on the terminal is asked again, up to `terminalAttempts` times; from
    /// any other source the first answer is final.
    func open(_ file: String, global: GlobalOptions) throws(StoreError) -> Store.OpenedBackup {
        let bytes = try readFile(file, maxSize: Store.maxBackupFileSize)
        let source = try global.passwordSecretSource()
        let attempts = source == .tty ? Self.terminalAttempts : 1
        for attempt in 1...attempts {
            let password = try source.read(prompt: "Password for \(file): ", allowEmpty: true)
            do throws(StoreError) {
                return try Store.openBackup(bytes, password: password, file: file, maxIterations: maxIterations)
            } catch  where error.code == .wrongSecret && attempt < attempts {
                SecretSource.tellTerminal(
                    "Wrong password for \(file) (\(attempts - attempt) more \(attempts - attempt == 1 ? "try" : "tries")).\n"
                )
            }
        }
        throw StoreError(.wrongSecret, "the password for \(file) is wrong")
    }
}
