internal import CPKCS11

/// Keeping secrets out of core dumps and swap: the process is made non-dumpable before the first
/// secret is read, and secret buffers are locked in memory where the system allows it.
public enum SecretMemory {
    /// Makes this process non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`): the kernel writes no core
    /// for it and other processes of the same user cannot ptrace it or read its memory through
    /// `/proc`. Idempotent; returns whether it took effect.
    @discardableResult
    public static func protectProcess() -> Bool {
        cb_set_nondumpable() == 0
    }

    /// Whether the process may currently be dumped (`prctl(PR_GET_DUMPABLE)`).
    public static var isDumpable: Bool { cb_get_dumpable() != 0 }

    /// Locks the pages of a secret buffer in memory (`mlock`), so it is never written to swap.
    /// Best effort: a low `RLIMIT_MEMLOCK` leaves the buffer unlocked, not the caller failing.
    public static func lock(_ base: UnsafeMutableRawPointer?, _ count: Int) {
        guard let base, count > 0 else { return }
        _ = mlock(base, count)
    }

    /// Unlocks what `lock` locked (`munlock`); call after wiping and before freeing.
    public static func unlock(_ base: UnsafeMutableRawPointer?, _ count: Int) {
        guard let base, count > 0 else { return }
        _ = munlock(base, count)
    }
}
