internal import CPKCS11

/// A PIN or password: a non-copyable byte buffer, wiped when it goes away. It cannot be printed
/// or interpolated (it is not copyable), so it cannot end up in a log or an error message.
public struct PIN: ~Copyable, @unchecked Sendable {
    private let buffer: UnsafeMutableBufferPointer<UInt8>

    /// Copies the bytes in; the caller wipes its own copy.
    public init(bytes: some Collection<UInt8>) {
        buffer = .allocate(capacity: max(bytes.count, 1))
        SecretMemory.lock(UnsafeMutableRawPointer(buffer.baseAddress), buffer.count)
        _ = buffer.initialize(from: bytes)
        count = bytes.count
    }

    /// Takes the bytes of `source` and wipes it.
    public init(wiping source: inout [UInt8]) {
        self.init(bytes: source)
        source.withUnsafeMutableBytes { cb_wipe($0.baseAddress, $0.count) }
        source.removeAll()
    }

    /// The number of bytes.
    public let count: Int

    /// True for the empty PIN.
    public var isEmpty: Bool { count == 0 }

    /// Lends the bytes for one call; do not let them escape.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(rebasing: buffer[0..<count]))
    }

    /// A constant-time comparison, for checking a PIN typed twice.
    public func matches(_ other: borrowing PIN) -> Bool {
        guard count == other.count else { return false }
        var difference: UInt8 = 0
        other.withUnsafeBytes { theirs in
            for i in 0..<count { difference |= buffer[i] ^ theirs[i] }
        }
        return difference == 0
    }

    deinit {
        cb_wipe(buffer.baseAddress, buffer.count)
        SecretMemory.unlock(UnsafeMutableRawPointer(buffer.baseAddress), buffer.count)
        buffer.deallocate()
    }
}

/// Wipes a byte array that held a secret (key material, a password read from a file).
public func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { cb_wipe($0.baseAddress, $0.count) }
}
