import ArgumentParser
import CertStore

/// How a PFX backup named on the command line is read: size and work limits against hostile
/// files, then its password, then `Store.openBackup`. Shared by `import` and `pfx inspect`.
struct BackupFileOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Refuse a PFX whose MAC or key derivation asks for more iterations than this (before any is done).",
                               valueName: "N"))
    var maxIterations: Int64 = Store.defaultMaxIterations

    func validate() throws {
        guard maxIterations >= 1 else { throw ValidationError("--max-iterations must be at least 1") }
    }

    /// Reads `file` (at most 16 MiB, checked before reading), asks its password, opens it.
    func open(_ file: String, global: GlobalOptions) throws(StoreError) -> Store.OpenedBackup {
        let bytes = try readFile(file, maxSize: Store.maxBackupFileSize)
        let password = try global.passwordSecretSource().read(prompt: "Password for \(file): ", allowEmpty: true)
        return try Store.openBackup(bytes, password: password, file: file, maxIterations: maxIterations)
    }
}
