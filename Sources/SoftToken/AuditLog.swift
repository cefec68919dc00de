#if canImport(Glibc)
    import Glibc
#endif

/// The token's audit trail: `audit`, one JSON object a line, appended (never rewritten), and
/// `audit-head`, the number and hash of the last entry (replaced atomically), so that a log cut
/// after a whole line is told from a complete one.
///
/// Each entry is `{"seq":N,"time":…,"pid":…,"program":…,"token":…,"key":…,"operation":…,
/// "outcome":…,"prev":H(N-1),"hash":H(N)}` where H(N) is the hex SHA-256 of the entry's text up
/// to `,"hash"` followed by `}`, and H(0) is 64 zeros: an edited, reordered or removed entry
/// breaks the chain at that entry. No entry holds a PIN, password or key.
enum AuditLog {
    static let fileName = "audit"
    static let headName = "audit-head"
    static let genesis = String(repeating: "0", count: 64)

    /// Appends one entry; a trail that cannot be written is not a reason to fail the operation
    /// it records (the operation's own result stands), so failures are swallowed here.
    static func append(_ directory: TokenDirectory, token: String, key: String, operation: String, outcome: String) {
        try? directory.locked(exclusive: true) { () throws(CKRError) in
            var seq = 0
            var previous = genesis
            if let head = try directory.read(headName) {
                let parts = String(decoding: head, as: UTF8.self).split(separator: " ")
                if parts.count == 2, let number = Int(parts[0]) {
                    seq = number
                    previous = String(parts[1])
                }
            }
            seq += 1
            let body =
                "{\"seq\":\(seq),\"time\":\(quote(utcNow())),\"pid\":\(getpid()),\"program\":\(quote(program())),"
                + "\"token\":\(quote(token)),\"key\":\(quote(key)),\"operation\":\(quote(operation)),"
                + "\"outcome\":\(quote(outcome)),\"prev\":\(quote(previous))"
            let hash = hex(Token.digest(Array((body + "}").utf8)))
            let line = Array((body + ",\"hash\":\(quote(hash))}\n").utf8)
            let fd = open(
                directory.path + "/" + fileName, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw CKRError(CKR.deviceError) }
            defer { close(fd) }
            let written = line.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            guard written == line.count, fsync(fd) == 0 else { throw CKRError(CKR.deviceError) }
            try directory.write(headName, Array("\(seq) \(hash)".utf8))
        }
    }

    /// This process's executable (the program a person would recognise), from /proc/self/exe.
    static func program() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "unknown" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func utcNow() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]] }
        return String(decoding: out, as: UTF8.self)
    }

    /// A JSON string.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

extension Token {
    /// Appends an entry about `key` (TokenObject.auditName, or "" for the token itself) to the trail.
    func audit(key: String, operation: String, outcome: String) {
        AuditLog.append(directory, token: Self.text(label), key: key, operation: operation, outcome: outcome)
    }

    /// A blank-padded label as text.
    static func text(_ label: [UInt8]) -> String {
        var bytes = label
        while bytes.last == 0x20 || bytes.last == 0 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension TokenObject {
    /// The label, for prompts (never written to the trail: a private object's label is sealed).
    var labelText: String { String(decoding: attributes[CKA.label] ?? [], as: UTF8.self) }
    /// How the trail names the object: its handle, which is also its file's name and so no secret.
    var auditName: String { "object " + String(handle, radix: 16) }
}
