import FoundationEssentials
import Glibc

// Standard streams and whole-file reads on plain descriptors: what Foundation's FileHandle gave,
// without linking Foundation (and its ICU data) into every start of the command.

/// Writes all of `bytes` to `fd`, across short writes and EINTR; false if the descriptor fails.
@discardableResult
func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
    var offset = 0
    return Array(bytes).withUnsafeBytes { buffer in
        while offset < buffer.count {
            let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}

/// `text` on stderr, as one write.
func writeStandardError(_ text: String) {
    writeAll(STDERR_FILENO, Array(text.utf8))
}

/// Everything `fd` gives until its end, or at most `limit` bytes; nil if a read fails.
func readAll(_ fd: Int32, limit: Int = .max) -> [UInt8]? {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    defer { chunk.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
    while result.count < limit {
        let wanted = min(chunk.count, limit - result.count)
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, wanted) }
        if count < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if count == 0 { break }
        result += chunk[..<count]
    }
    return result
}
