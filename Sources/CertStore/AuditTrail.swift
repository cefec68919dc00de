import Crypto
import FoundationEssentials

/// One entry of the software token's audit trail, as the module appended it.
public struct AuditEntry: Codable, Sendable, Hashable {
    /// Its number, from 1.
    public var seq: Int
    /// UTC, to the second (ISO 8601).
    public var time: String
    /// The process that used the token.
    public var pid: Int
    /// That process's executable.
    public var program: String
    /// The token's label.
    public var token: String
    /// The key, as "object HANDLE" (the object's file name: a private key's label is sealed and
    /// stays off the trail), "" for the token itself (e.g. a failed user login).
    public var key: String
    /// What was done: sign, decrypt, import, export, delete, user login...
    public var operation: String
    /// How it ended: approval asked, approved, refused, timed out, done, failed...
    public var outcome: String
    /// The hash of the entry before (64 zeros for the first).
    public var prev: String
    /// SHA-256 of this entry's text up to `,"hash"`, closed with `}`.
    public var hash: String
}

/// The software token's audit trail (`audit` and `audit-head` in its directory) with the result
/// of checking its hash chain.
public struct AuditTrail: Sendable {
    /// The entries that could be read, in file order.
    public var entries: [AuditEntry]
    /// The first entry that breaks the chain (its 1-based line), nil when the trail is intact.
    public var firstBadEntry: Int?
    /// Why that entry is bad.
    public var problem: String?

    /// Reads and checks a trail: each line must parse, number itself one more than the last,
    /// name the last entry's hash as `prev`, and hash to its own `hash`; the last must be the
    /// one `audit-head` names, so a trail cut after a whole line is caught too.
    public init(log: Data, head: Data?) {
        entries = []
        var previous = String(repeating: "0", count: 64)
        let lines = log.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let complete = lines.last?.isEmpty ?? true
        for (index, line) in lines.enumerated() where !(index == lines.count - 1 && line.isEmpty) {
            let number = index + 1
            if index == lines.count - 1 && !complete {
                fail(number, "entry \(number) is cut short (the log was truncated)")
                return
            }
            guard let entry = try? JSONDecoder().decode(AuditEntry.self, from: Data(line)) else {
                fail(number, "entry \(number) is not an audit entry (edited)")
                return
            }
            guard entry.seq == number else {
                fail(number, "entry \(number) says it is entry \(entry.seq) (reordered or removed entries)")
                return
            }
            guard entry.prev == previous else {
                fail(number, "entry \(number) does not follow from entry \(number - 1) (reordered, removed or edited)")
                return
            }
            guard let marker = Self.hashMarker(in: Array(line)),
                Self.hex(SHA256.hash(data: Array(line[line.startIndex..<line.startIndex + marker]) + Array("}".utf8)))
                    == entry.hash
            else {
                fail(number, "entry \(number) does not match its hash (edited)")
                return
            }
            entries.append(entry)
            previous = entry.hash
        }
        if let head, let text = String(data: head, encoding: .utf8) {
            let parts = text.split(separator: " ")
            if parts.count == 2, let last = Int(parts[0]), last != entries.count || String(parts[1]) != previous {
                let missing = entries.count + 1
                fail(
                    missing,
                    last > entries.count
                        ? "entry \(missing) is missing: the token wrote \(last) entries (the log was truncated)"
                        : "the log does not end with the entry the token wrote last")
            }
        }
    }

    private mutating func fail(_ entry: Int, _ why: String) {
        firstBadEntry = entry
        problem = why
    }

    /// Where `,"hash":"` starts in a line.
    private static func hashMarker(in line: [UInt8]) -> Int? {
        let marker = Array(",\"hash\":\"".utf8)
        guard line.count > marker.count else { return nil }
        for start in stride(from: line.count - marker.count, through: 0, by: -1)
        where Array(line[start..<start + marker.count]) == marker {
            return start
        }
        return nil
    }

    private static func hex(_ digest: SHA256.Digest) -> String { CertStore.hex(Array(digest)) }
}

extension Store {
    /// The audit trail of a software token, read from its directory
    /// (`$CERTBRIDGE_SOFTTOKEN_DIR/SERIAL`, default ~/.local/share/certbridge/softtoken/SERIAL).
    public func auditTrail(of token: Token) throws(StoreError) -> AuditTrail {
        guard token.isSoftToken else {
            throw StoreError(
                .usage, "\"\(token.info.label)\" keeps no audit trail: only CertBridge's software token does")
        }
        let environment = ProcessInfo.processInfo.environment
        let root =
            environment["CERTBRIDGE_SOFTTOKEN_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? "") + "/.local/share/certbridge/softtoken")
        let directory = root + "/" + token.info.serialNumber
        let log = FileManager.default.contents(atPath: directory + "/audit") ?? Data()
        return AuditTrail(log: log, head: FileManager.default.contents(atPath: directory + "/audit-head"))
    }
}
