import CSoftTokenCrypto

#if canImport(Glibc)
    import Glibc
#endif

/// One question put to the person through a pinentry program (GnuPG's pinentry-tty, -curses,
/// -gnome3...), in the Assuan protocol they speak: SETTITLE, SETDESC, SETPROMPT, OPTION
/// ttyname/display, then CONFIRM (yes/no) or GETPIN (a password), then BYE.
///
/// The module runs inside foreign processes: the program is started with posix_spawn over a
/// socket pair (send with MSG_NOSIGNAL, so a pinentry that dies cannot SIGPIPE the host), with
/// every other descriptor closed in the child; a prompt nobody answers is killed at its
/// deadline; the password read back is wiped once it has been copied out.
struct Pinentry {
    /// What the person is asked.
    struct Question {
        var title: String
        var description: String
        var prompt: String
        /// GETPIN (a password) rather than CONFIRM.
        var wantsPassword: Bool
    }

    /// How the question was answered.
    enum Answer {
        /// CONFIRM answered OK.
        case confirmed
        /// GETPIN answered with these bytes (the caller wipes them).
        case password([UInt8])
        /// The person said no (Cancel, Escape, Ctrl-D).
        case refused
        /// Nobody answered before the deadline.
        case timedOut
        /// No pinentry could be run, or it had no terminal and no display to ask on.
        case unavailable
    }

    let program: String
    let ttyname: String?
    let display: String?
    let timeoutSeconds: Int

    /// `$CERTBRIDGE_PINENTRY`, else `pinentry` on PATH; nil when neither is an executable file.
    static func findProgram() -> String? {
        if let set = environment("CERTBRIDGE_PINENTRY") { return access(set, X_OK) == 0 ? set : nil }
        for dir in (environment("PATH") ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = String(dir) + "/pinentry"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The caller's terminal: the first of fd 0, 1, 2 that is one, else `$GPG_TTY`.
    static func callerTerminal() -> String? {
        for fd: Int32 in [0, 1, 2] where isatty(fd) == 1 {
            if let name = Glibc.ttyname(fd) { return String(cString: name) }
        }
        return environment("GPG_TTY")
    }

    /// The caller's display: `$DISPLAY`, else `$WAYLAND_DISPLAY`.
    static func callerDisplay() -> String? { environment("DISPLAY") ?? environment("WAYLAND_DISPLAY") }

    /// `$CERTBRIDGE_PINENTRY_TIMEOUT` seconds (1 to 3600), else 60.
    static func timeout() -> Int {
        guard let text = environment("CERTBRIDGE_PINENTRY_TIMEOUT"), let value = Int(text) else { return 60 }
        return min(max(value, 1), 3600)
    }

    static func environment(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }

    /// The pinentry for this process, or nil when there is none or nowhere to ask.
    static func forCaller() -> Pinentry? {
        let terminal = callerTerminal()
        let display = callerDisplay()
        guard terminal != nil || display != nil, let program = findProgram() else { return nil }
        return Pinentry(program: program, ttyname: terminal, display: display, timeoutSeconds: timeout())
    }

    /// Asks the question; never takes longer than the timeout (plus a second to reap the child).
    func ask(_ question: Question) -> Answer {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            return .unavailable
        }
        defer { close(fds[0]) }
        guard let child = spawn(socket: fds[1]) else {
            close(fds[1])
            return .unavailable
        }
        close(fds[1])
        let deadline = Self.now() + Double(timeoutSeconds)
        var connection = Connection(fd: fds[0], deadline: deadline)
        defer { connection.wipe() }
        let answer = converse(&connection, question)
        if case .timedOut = answer { kill(child, SIGKILL) }
        reap(child, killAfter: deadline + 1)
        return answer
    }

    private func converse(_ connection: inout Connection, _ question: Question) -> Answer {
        // The greeting, then each setting; a pinentry that fails here cannot ask.
        guard case .ok = connection.response() else { return connection.timedOut ? .timedOut : .unavailable }
        var commands = [
            "SETTITLE " + Self.escape(question.title), "SETDESC " + Self.escape(question.description),
            "SETPROMPT " + Self.escape(question.prompt), "SETTIMEOUT \(timeoutSeconds)",
        ]
        if !question.wantsPassword { commands += ["SETOK _Allow", "SETCANCEL _Deny"] }
        if let ttyname { commands.append("OPTION ttyname=" + Self.escape(ttyname)) }
        if let term = Self.environment("TERM") { commands.append("OPTION ttytype=" + Self.escape(term)) }
        if let display { commands.append("OPTION display=" + Self.escape(display)) }
        for command in commands {
            guard connection.send(command) else { return .unavailable }
            switch connection.response() {
            case .ok: continue
            // Unknown options (an old pinentry) are not fatal; a dead one is.
            case .error:
                let optional = ["OPTION", "SETTIMEOUT", "SETOK", "SETCANCEL"].contains { command.hasPrefix($0) }
                if optional { continue } else { return .unavailable }
            case .closed: return connection.timedOut ? .timedOut : .unavailable
            }
        }
        guard connection.send(question.wantsPassword ? "GETPIN" : "CONFIRM") else { return .unavailable }
        let result = connection.response()
        _ = connection.send("BYE")
        switch result {
        case .ok:
            return question.wantsPassword ? .password(connection.takeData()) : .confirmed
        case .error(let code):
            // GPG_ERR_TIMEOUT (62) from the pinentry's own SETTIMEOUT.
            return code & 0xFFFF == 62 ? .timedOut : .refused
        case .closed:
            return connection.timedOut ? .timedOut : .refused
        }
    }

    /// posix_spawn with the socket as stdin and stdout, stderr to /dev/null, every other
    /// descriptor closed and default signal handling.
    private func spawn(socket: Int32) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, socket, 0)
        posix_spawn_file_actions_adddup2(&actions, socket, 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        guard cbst_spawn_closefrom(&actions, 3) == 0 else { return nil }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        var all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(program), nil]
        defer { for arg in argv { free(arg) } }
        guard posix_spawn(&pid, program, &actions, &attributes, argv, environ) == 0 else { return nil }
        return pid
    }

    /// Waits for the child; one that outlives `killAfter` is killed, so no prompt stays behind.
    private func reap(_ child: pid_t, killAfter: Double) {
        var status: Int32 = 0
        while true {
            let done = waitpid(child, &status, WNOHANG)
            if done == child || (done < 0 && errno != EINTR) { return }
            if Self.now() > killAfter {
                kill(child, SIGKILL)
                _ = waitpid(child, &status, 0)
                return
            }
            usleep(10_000)
        }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Assuan's escaping of a parameter: %, CR, LF and other control bytes as %XX.
    static func escape(_ text: String) -> String {
        var out: [UInt8] = []
        for byte in text.utf8 {
            if byte < 0x20 || byte == UInt8(ascii: "%") {
                out +=
                    Array("%".utf8) + Array(String(byte >> 4, radix: 16, uppercase: true).utf8)
                    + Array(String(byte & 0xF, radix: 16, uppercase: true).utf8)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The client end of one Assuan conversation: lines in, lines out, a deadline for every read.
private struct Connection {
    enum Response {
        case ok
        case error(Int)
        case closed
    }

    let fd: Int32
    let deadline: Double
    private(set) var timedOut = false
    private var buffer: [UInt8] = {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4096)
        return bytes
    }()
    /// The decoded D lines of the last response (a password, for GETPIN).
    private var data: [UInt8] = []

    init(fd: Int32, deadline: Double) {
        self.fd = fd
        self.deadline = deadline
    }

    func send(_ line: String) -> Bool {
        let bytes = Array((line + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += n
        }
        return true
    }

    /// Reads lines up to the OK or ERR that ends a response; D lines are kept, status and
    /// comment lines skipped.
    mutating func response() -> Response {
        Pinentry.wipe(&data)
        while true {
            guard var line = readLine() else { return .closed }
            defer { Pinentry.wipe(&line) }
            if line.starts(with: Array("OK".utf8)) && (line.count == 2 || line[2] == 0x20) { return .ok }
            if line.starts(with: Array("ERR ".utf8)) {
                let digits = line.dropFirst(4).prefix { $0 >= 0x30 && $0 <= 0x39 }
                return .error(Int(String(decoding: digits, as: UTF8.self)) ?? 0)
            }
            if line.starts(with: Array("D ".utf8)) { decode(line.dropFirst(2)) }
            if line.starts(with: Array("INQUIRE".utf8)) { _ = send("END") }
        }
    }

    mutating func takeData() -> [UInt8] {
        defer { data = [] }
        return data
    }

    private mutating func decode(_ escaped: ArraySlice<UInt8>) {
        var index = escaped.startIndex
        while index < escaped.endIndex {
            if escaped[index] == UInt8(ascii: "%"), index + 2 < escaped.endIndex,
                let value = UInt8(String(decoding: escaped[index + 1...index + 2], as: UTF8.self), radix: 16)
            {
                data.append(value)
                index += 3
            } else {
                data.append(escaped[index])
                index += 1
            }
        }
    }

    /// One line without its newline; nil at end of file, on error or past the deadline.
    private mutating func readLine() -> [UInt8]? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[..<newline])
                for i in 0...newline { buffer[i] = 0 }
                buffer.removeFirst(newline + 1)
                return line
            }
            let left = deadline - Pinentry.now()
            guard left > 0 else {
                timedOut = true
                return nil
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left * 1000 + 1, 3_600_000)))
            if ready < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if ready == 0 {
                timedOut = true
                return nil
            }
            var chunk = [UInt8](repeating: 0, count: 1024)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                Pinentry.wipe(&chunk)
                return nil
            }
            buffer += chunk[0..<n]
            Pinentry.wipe(&chunk)
        }
    }

    mutating func wipe() {
        Pinentry.wipe(&buffer)
        Pinentry.wipe(&data)
    }
}

extension Pinentry {
    static func wipe(_ bytes: inout [UInt8]) { SoftToken.wipe(&bytes) }
}
