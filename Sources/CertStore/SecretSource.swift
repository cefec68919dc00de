#if canImport(Glibc)
import Glibc
#endif
import PKCS11

/// Where a PIN or password comes from. Never argv: `tty` (asked without echo), `file:PATH`,
/// `env:NAME` or `fd:N`. The first line is taken; a trailing newline is not part of the secret.
public enum SecretSource: Sendable, Hashable, CustomStringConvertible {
    case tty
    case file(String)
    case environment(String)
    case fileDescriptor(Int32)

    /// Parses `tty`, `file:PATH`, `env:NAME`, `fd:N`.
    public init(_ text: String) throws(StoreError) {
        if text == "tty" { self = .tty; return }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        // The text is not echoed: a user who typed the PIN itself here must not see it printed.
        let unknown = StoreError(.usage, "the secret source \(parts.count == 2 ? "\"\(parts[0]):…\"" : "given") is not one of tty, "
                                 + "file:PATH, env:NAME, fd:N (a PIN or password itself is never taken from the command line)")
        guard parts.count == 2, !parts[1].isEmpty else { throw unknown }
        switch parts[0] {
        case "file": self = .file(parts[1])
        case "env": self = .environment(parts[1])
        case "fd":
            guard let fd = Int32(parts[1]), fd >= 0 else { throw StoreError(.usage, "fd:N needs a file descriptor number") }
            self = .fileDescriptor(fd)
        default:
            throw unknown
        }
    }

    /// The source as it is written on the command line (never the secret).
    public var description: String {
        switch self {
        case .tty: "tty"
        case .file(let path): "file:\(path)"
        case .environment(let name): "env:\(name)"
        case .fileDescriptor(let fd): "fd:\(fd)"
        }
    }

    /// Reads the secret. `prompt` is shown only on a terminal.
    public func read(prompt: String) throws(StoreError) -> PIN {
        var bytes: [UInt8]
        switch self {
        case .tty:
            bytes = try Self.readFromTerminal(prompt: prompt)
        case .file(let path):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw StoreError(.usage, "cannot read the secret file \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            bytes = Self.readAll(fd)
        case .environment(let name):
            guard let value = getenv(name) else { throw StoreError(.usage, "environment variable \(name) is not set") }
            bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(value).assumingMemoryBound(to: UInt8.self), count: strlen(value)))
        case .fileDescriptor(let fd):
            bytes = Self.readAll(fd, stopAtNewline: true)
        }
        if let newline = bytes.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
            let tail = bytes.count - newline
            bytes.withUnsafeMutableBytes { raw in
                for i in newline..<raw.count { raw[i] = 0 }
            }
            bytes.removeLast(tail)
        }
        return PIN(wiping: &bytes)
    }

    /// Reads a new secret: on a terminal it is asked twice and must match.
    public func readNew(prompt: String) throws(StoreError) -> PIN {
        let first = try read(prompt: prompt)
        guard self == .tty else { return first }
        let again = try read(prompt: "Confirm \(prompt.prefix(1).lowercased() + prompt.dropFirst())")
        guard first.matches(again) else { throw StoreError(.usage, "the two entries did not match") }
        return first
    }

    private static func readAll(_ fd: Int32, stopAtNewline: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        // One byte at a time from a descriptor: a script may keep writing other things after
        // the line, and we must not swallow them.
        while Glibc.read(fd, &byte, 1) == 1 {
            if stopAtNewline && byte == 0x0A { break }
            bytes.append(byte)
        }
        byte = 0
        return bytes
    }

    private static func readFromTerminal(prompt: String) throws(StoreError) -> [UInt8] {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StoreError(.usage, "no terminal to ask for the \(prompt.lowercased().trimmingColon()) on; give --pin-source or --password-source (file:PATH, env:NAME, fd:N)")
        }
        defer { close(fd) }
        var saved = termios()
        let isTerminal = tcgetattr(fd, &saved) == 0
        if isTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            quiet.c_lflag |= tcflag_t(ECHONL)
            tcsetattr(fd, TCSAFLUSH, &quiet)
        }
        defer { if isTerminal { tcsetattr(fd, TCSAFLUSH, &saved) } }
        _ = prompt.withCString { write(fd, $0, strlen($0)) }
        return readAll(fd, stopAtNewline: true)
    }
}

private extension String {
    func trimmingColon() -> String {
        var s = self
        while s.last == " " || s.last == ":" { s.removeLast() }
        return s
    }
}
