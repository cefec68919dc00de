internal import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// A password held in memory this type owns, wiped (`OPENSSL_cleanse`) and freed when it goes away.
///
/// Non-copyable so there is exactly one copy to wipe. The caller wipes its own source buffer.
/// An empty secret means "no password": opening tries both the empty string and no password at
/// all (NULL), because Windows and `openssl` write either.
public struct Secret: ~Copyable, @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer

    /// Copies `bytes` (a UTF-8 password) into wiped-on-release memory.
    public init(copying bytes: some Collection<UInt8>) {
        // One spare byte keeps a NUL terminator for the OpenSSL calls that take C strings.
        storage = .allocate(byteCount: bytes.count + 1, alignment: 1)
        // Kept out of swap where the memory-lock limit allows (best effort).
        _ = mlock(storage.baseAddress!, storage.count)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        _ = storage.initializeMemory(as: UInt8.self, from: bytes)
    }

    /// Copies a string's UTF-8; only for tests and passwords that are not secret anyway, since a
    /// `String` cannot be wiped.
    public init(utf8 string: String) {
        self.init(copying: Array(string.utf8))
    }

    /// An empty password (also tried as "no password").
    public static var empty: Secret { Secret(copying: [UInt8]()) }

    /// The password's length in bytes.
    public var count: Int { storage.count - 1 }
    /// Whether there is no password (tried as "" and as NULL when opening).
    public var isEmpty: Bool { count == 0 }

    /// The bytes, valid only inside `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// The bytes as a NUL-terminated C string, valid only inside `body`.
    func withCString<R, E: Error>(_ body: (UnsafePointer<CChar>) throws(E) -> R) throws(E) -> R {
        try body(storage.baseAddress!.assumingMemoryBound(to: CChar.self))
    }

    var containsNUL: Bool { storage[0..<count].contains(0) }

    deinit {
        CB_OPENSSL_cleanse(storage.baseAddress, storage.count)
        _ = munlock(storage.baseAddress!, storage.count)
        storage.deallocate()
    }
}

/// Key material owned by this process, wiped and freed on release (`OPENSSL_cleanse`).
final class SecretBytes: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer

    /// How many bytes are in use (the allocation is at least one byte).
    let count: Int

    init(count: Int) {
        buffer = .allocate(byteCount: max(count, 1), alignment: 1)
        _ = mlock(buffer.baseAddress!, buffer.count)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        self.count = count
    }

    convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count)
        if bytes.count > 0 { buffer.copyMemory(from: bytes) }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[0..<count]) }

    deinit {
        CB_OPENSSL_cleanse(buffer.baseAddress, buffer.count)
        _ = munlock(buffer.baseAddress!, buffer.count)
        buffer.deallocate()
    }
}
