internal import CPKCS11
import CSoftTokenCrypto

#if canImport(Glibc)
    import Glibc
#endif

/// The last user login of this process, kept after the login ended with the token's last
/// session, so that a client that opens a session and logs in once per object (p11tool, GnuTLS)
/// pays the PIN's key derivation once, not once per object.
///
/// What it keeps, until C_Logout, C_Finalize, a PIN change or the process's end:
/// - the master key, in a page of its own that is locked (never swapped) and left out of core
///   dumps (`MADV_DONTDUMP`), wiped when dropped;
/// - SHA-256(random salt ‖ PIN), the salt drawn at the login and never written anywhere;
/// - the wrapped master key and salt of the token file it opened, so that a PIN changed by any
///   process (the token file then wraps the key anew) is never answered from here.
///
/// Only the right PIN is answered from here, under the token's lock and after the check that
/// the PIN is not locked; it clears the count of wrong tries. Any other PIN goes through the key
/// derivation and is counted on disk before its check, refused and timed as before. (Answering
/// the right PIN without counting it first gives nothing away: a guess is only ever answered
/// from here when it is the PIN, and only in a process that logged in with it.)
final class RememberedLogin {
    private let page: UnsafeMutableRawPointer
    private let pageSize: Int
    private let keyCount: Int
    /// SHA-256(salt ‖ PIN), the salt random and never written anywhere.
    let check: (salt: [UInt8], digest: [UInt8])
    private let wrapped: [UInt8]
    private let userSalt: [UInt8]
    private let iterations: UInt32

    init?(masterKey: [UInt8], pin: [UInt8], record: TokenRecord) {
        guard let wrapped = record.userWrapped, let userSalt = record.userSalt,
            let salt = try? randomBytes(32)
        else { return nil }
        let pageSize = max(Int(sysconf(Int32(_SC_PAGESIZE))), masterKey.count)
        self.pageSize = pageSize
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, pageSize, pageSize) == 0, let memory else { return nil }
        _ = mlock(memory, pageSize)
        _ = madvise(memory, pageSize, MADV_DONTDUMP)
        masterKey.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        page = memory
        keyCount = masterKey.count
        check = (salt, Token.pinDigest(salt: salt, pin: pin))
        self.wrapped = wrapped
        self.userSalt = userSalt
        self.iterations = record.iterations
    }

    /// The master key, when `pin` is the PIN that opened it and the token file still wraps the
    /// key as it did then; nil otherwise (the caller derives the key from the PIN). The caller
    /// wipes it.
    func masterKey(pin: [UInt8], record: TokenRecord) -> [UInt8]? {
        guard record.userWrapped == wrapped, record.userSalt == userSalt, record.iterations == iterations else {
            return nil
        }
        let digest = Token.pinDigest(salt: check.salt, pin: pin)
        guard digest.count == check.digest.count, cbst_equal(digest, check.digest, digest.count) == 1 else {
            return nil
        }
        return [UInt8](UnsafeRawBufferPointer(start: page, count: keyCount))
    }

    deinit {
        cbst_wipe(page, pageSize)
        _ = munlock(page, pageSize)
        free(page)
    }
}
