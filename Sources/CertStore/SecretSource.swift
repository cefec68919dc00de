public import PKCS11

#if canImport(Glibc)
    import Glibc
#endif

/// Where a PIN or password comes from. Never argv: `tty` (asked without echo), `file:PATH`,
/// `env:NAME` or `fd:N`. The first line is taken; a trailing newline is not part of the secret.
public enum SecretSource: Sendable, Hashable, CustomStringConvertible {
    case tty
    case file(String)
    case environment(String)
    case fileDescriptor(Int32)

    /// Parses `tty`, `file:PATH`, `env:NAME`, `fd:N`.
    public init(_ text: String) throws(StoreError) {
        if text == "tty" {
            self = .tty
            return
        }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        // The text is not echoed: a user who typed the PIN itself here must not see it printed.
        let unknown = StoreError(
            .usage,
            "the secret source \(parts.count == 2 ? "\"\(parts[0]):…\"" : "given") is not one of tty, "
                + "file:PATH, env:NAME, fd:N (a PIN or password itself is never taken from the command line)")
        guard parts.count == 2, !parts[1].isEmpty else { throw unknown }
        switch parts[0] {
        case "file": self = .file(parts[1])
        case "env": self = .environment(parts[1])
        case "fd":
            guard let fd = Int32(parts[1]), fd >= 0 else {
                throw StoreError(.usage, "fd:N needs a file descriptor number")
            }
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

    /// Makes this process non-dumpable before the first secret is read: no core dump, and no
    /// ptrace or `/proc` reading of its memory by other processes of the same user
    /// (`prctl(PR_SET_DUMPABLE, 0)`). Returns whether it took effect.
    @discardableResult
    public static func protectProcess() -> Bool { SecretMemory.protectProcess() }

    /// The longest secret read: a PIN or password is a line, and a source that goes on (a
    /// 100 MB file, `/dev/zero`) is a mistake, refused after this many bytes.
    public static let maximumLength = 4096

    /// Reads the secret. `prompt` is shown only on a terminal.
    ///
    /// A source that gives nothing (a missing or unreadable file, a directory, a closed or
    /// write-only descriptor, an unset or empty variable, an empty line) is refused with a usage
    /// error before anything uses it, so a mistake never spends a PIN try. `allowEmpty` is for a
    /// PFX file's password, which may legitimately be empty (no try is counted there); a source
    /// that cannot be read is refused even then.
    public func read(prompt: String, allowEmpty: Bool = false) throws(StoreError) -> PIN {
        var bytes: [UInt8]
        switch self {
        case .tty:
            bytes = try Self.readFromTerminal(prompt: prompt)
        case .file(let path):
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else {
                throw StoreError(.usage, "cannot read the secret file \(path): \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            var status = stat()
            guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) != S_IFDIR else {
                throw StoreError(.usage, "cannot read the secret file \(path): it is a directory")
            }
            // Blocking again for a FIFO a script writes into; O_NONBLOCK only kept open() from
            // waiting for a writer.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            bytes = try Self.readLine(fd, source: self)
        case .environment(let name):
            guard let value = getenv(name) else { throw StoreError(.usage, "environment variable \(name) is not set") }
            let length = strlen(value)
            guard length <= Self.maximumLength else { throw Self.tooLong(self) }
            bytes = Array(
                UnsafeBufferPointer(start: UnsafeRawPointer(value).assumingMemoryBound(to: UInt8.self), count: length))
        case .fileDescriptor(let fd):
            bytes = try Self.readLine(fd, source: self)
        }
        if let newline = bytes.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
            let tail = bytes.count - newline
            bytes.withUnsafeMutableBytes { raw in
                for i in newline..<raw.count { raw[i] = 0 }
            }
            bytes.removeLast(tail)
        }
        if bytes.isEmpty && !allowEmpty {
            throw StoreError(.usage, "the secret source \(self) gave an empty \(prompt.secretNoun); nothing was tried")
        }
        return PIN(wiping: &bytes)
    }

    /// Reads a new secret: on a terminal it is asked twice and must match. `length` is the rule
    /// the secret must keep (in bytes); on a terminal a mismatch or a secret that breaks the rule
    /// is said and asked again, up to `attempts` times. Another source is read once.
    public func readNew(prompt: String, length: ClosedRange<Int>? = nil, rule: String? = nil, attempts: Int = 3)
        throws(StoreError) -> PIN
    {
        let broken = { (count: Int) -> String? in
            guard let length, !length.contains(count) else { return nil }
            return rule ?? "it must have \(length.lowerBound) to \(length.upperBound) characters"
        }
        guard self == .tty else {
            let secret = try read(prompt: prompt)
            if let problem = broken(secret.count) {
                throw StoreError(.usage, "the \(prompt.secretNoun) from \(self) is refused: \(problem)")
            }
            return secret
        }
        for attempt in 1...max(1, attempts) {
            let last = attempt == max(1, attempts)
            let first = try read(prompt: prompt)
            if let problem = broken(first.count) {
                if last { throw StoreError(.usage, "the \(prompt.secretNoun) is refused: \(problem)") }
                Self.tellTerminal("That \(prompt.secretNoun) is refused: \(problem). Try again.\n")
                continue
            }
            let again = try read(prompt: "Confirm \(prompt.prefix(1).lowercased() + prompt.dropFirst())")
            if first.matches(again) { return first }
            if last { throw StoreError(.usage, "the two entries did not match") }
            Self.tellTerminal("The two entries did not match. Try again.\n")
        }
        throw StoreError(.usage, "the two entries did not match")
    }

    /// Says something to the person at the terminal (where the prompts are), not to stdout.
    public static func tellTerminal(_ text: String) {
        let fd = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = text.withCString { write(fd, $0, strlen($0)) }
    }

    /// Reads one line, one byte at a time: a script may keep writing other things after the
    /// line on a descriptor, and we must not swallow them. A read error (a closed or write-only
    /// descriptor, a directory) or a line longer than `maximumLength` is refused.
    private static func readLine(_ fd: Int32, source: SecretSource) throws(StoreError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(maximumLength)  // no regrowth: every byte lives in one buffer we wipe
        var byte: UInt8 = 0
        defer { byte = 0 }
        while true {
            let got = Glibc.read(fd, &byte, 1)
            if got < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                wipe(&bytes)
                throw StoreError(.usage, "cannot read the secret from \(source): \(reason)")
            }
            if got == 0 || byte == 0x0A { break }
            guard bytes.count < maximumLength else {
                wipe(&bytes)
                throw tooLong(source)
            }
            bytes.append(byte)
        }
        return bytes
    }

    private static func tooLong(_ source: SecretSource) -> StoreError {
        StoreError(
            .usage,
            "the secret source \(source) gives more than \(maximumLength) bytes on its first line; a PIN or password is one short line"
        )
    }

    private static func readFromTerminal(prompt: String) throws(StoreError) -> [UInt8] {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StoreError(
                .usage,
                "there is no terminal to ask for the \(prompt.askedFor); give \(prompt.sourceOption) (file:PATH, env:NAME or fd:N)"
            )
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
        return try readLine(fd, source: .tty)
    }
}

extension String {
    /// "PIN" or "password", from the prompt that asked for it.
    fileprivate var secretNoun: String { lowercased().contains("pin") ? "PIN" : "password" }

    /// What a prompt asks for, to go after "the": `PIN for token "seedsoft"`, `password for
    /// alice.pfx`. An acronym that starts it (PIN, SO) keeps its capitals.
    fileprivate var askedFor: String {
        var text = self
        while text.last == " " || text.last == ":" { text.removeLast() }
        let firstWord = text.prefix { $0 != " " }
        guard firstWord.contains(where: \.isLowercase) else { return text }
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// The option that gives what the prompt asks for without a terminal.
    fileprivate var sourceOption: String {
        let text = lowercased()
        if text.contains("so pin") { return "--so-pin-source" }
        if text.hasPrefix("new pin") { return "--new-pin-source" }
        if text.contains("key password") || text.contains("password for this key") { return "--key-password-source" }
        if text.contains("pin") { return "--pin-source" }
        return "--password-source"
    }
}
