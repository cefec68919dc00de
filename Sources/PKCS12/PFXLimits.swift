/// How much work a PFX may ask for. A hostile file can name an iteration count of 2^31-1 in its
/// MAC or key derivation (an hour of CPU, even for a wrong password), or be hundreds of MB: such
/// files are refused before OpenSSL derives any key from the password.
public struct PFXLimits: Sendable, Hashable {
    /// The largest iteration count accepted in the MAC, a PBKDF2 or a PKCS#12/PKCS#5 PBE.
    /// Windows and OpenSSL write at most a few million; 10^7 already takes seconds.
    public var maxIterations: Int64

    /// The default cap on iterations.
    public static let defaultMaxIterations: Int64 = 10_000_000
    /// The largest PFX file read (16 MiB): a backup of one key and its chain is a few KB.
    public static let maxFileSize = 16 << 20

    /// Limits with `maxIterations` (default 10,000,000).
    public init(maxIterations: Int64 = PFXLimits.defaultMaxIterations) {
        self.maxIterations = maxIterations
    }

    /// Refuses an iteration count over the cap, naming `what` asked for it.
    func check(iterations: Int64, in what: String) throws(PKCS12Error) {
        guard iterations > maxIterations else { return }
        throw PKCS12Error(
            .limitExceeded,
            "the \(what) asks for \(iterations) iterations, more than the limit of \(maxIterations) "
                + "(a hostile or damaged file; raise it with --max-iterations if you trust the file)")
    }
}
