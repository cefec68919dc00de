import Crypto
import FoundationEssentials
internal import PKCS11

#if canImport(Glibc)
    import Glibc
#endif

/// The journal of one write to a token (an import, the key pair of `enroll new`, an installed
/// certificate), on disk and fsynced before the first object is created, so that a process
/// killed half-way leaves enough behind for the next command on that token to finish the job:
/// roll the write back, or, once the old objects of a replacement were being removed, forward.
///
/// The file, `$XDG_STATE_HOME/certbridge/import-TOKEN-MARKER.journal` (TOKEN: `fileKey` of the
/// token it is for, so a command reads only its own tokens' journals; 0600, made with
/// O_EXCL|O_NOFOLLOW in a directory that must be the user's own and not writable by others), is
/// a list of JSON lines that is only ever appended to: the header (which token, what is being
/// done), then each object about to be created, then, for a replacement, how many of the old
/// objects may remain, then "committed". It is removed once the write is done. The writer holds
/// an flock on it for as long as it lives, so a reader tells a live write from a dead one.
///
/// Objects are named by templates of their public attributes (class, label, id, the public key
/// or certificate value, the key flags; never secret components) together with how many objects
/// on the token matched each template before the write. That picks out what the write added
/// without marking the objects themselves, so a partly written object is found as well as a
/// whole one, and no extra write is needed: rolling back takes each template down to its
/// earlier count. Objects that match the same template are alike in everything CertBridge
/// shows or relies on, so which of them goes does not matter.
final class ImportJournal {
    /// The token a journal is for, as CK_TOKEN_INFO names it.
    struct TokenIdentity: Codable, Hashable {
        var label: String
        var manufacturer: String
        var model: String
        var serial: String

        /// The token in a journal's file name: 16 hex digits of SHA-256 over the four fields,
        /// each length-prefixed.
        var fileKey: String {
            var hash = SHA256()
            for field in [label, manufacturer, model, serial] {
                let bytes = Array(field.utf8)
                hash.update(data: withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { Array($0) } + bytes)
            }
            return hex(Array(hash.finalize().prefix(8)))
        }
    }

    /// The token key in a journal file's name, and its marker; nil for another file. Journals of
    /// earlier releases (`import-MARKER.journal`) have no token key.
    static func nameParts(_ name: String) -> (token: Substring?, marker: Substring)? {
        guard name.hasPrefix("import-"), name.hasSuffix(".journal") else { return nil }
        let middle = name.dropFirst("import-".count).dropLast(".journal".count)
        guard let dash = middle.firstIndex(of: "-") else { return (nil, middle) }
        return (middle[..<dash], middle[middle.index(after: dash)...])
    }

    /// One attribute of a template, its value in hex.
    struct StoredAttribute: Codable, Equatable {
        var type: UInt
        var value: String

        var attribute: Attribute { Attribute(AttributeType(rawValue: type), bytes: bytes(fromHex: value)) }
    }

    /// A template and a count: before the write, how many objects matched it; for a replacement,
    /// how many may remain.
    struct Match: Codable, Equatable {
        var template: [StoredAttribute]
        var count: Int
    }

    /// An object the write is about to create: its templates from the strictest (every public
    /// attribute and the flags asked for) to the loosest (class, id and label), for a token that
    /// kept a value in another form than it was given.
    struct Expected: Codable, Equatable {
        var what: String
        var matches: [Match]
    }

    /// One line of the file.
    struct Line: Codable {
        var operation: String?
        var token: TokenIdentity?
        var pid: Int32?
        var started: Date?
        /// For a token PKCS#11 cannot take objects off again (a PIV card): what to tell the user.
        var irreversible: String?
        /// An object about to be created.
        var expect: Expected?
        /// The old objects of a replacement are being removed: from here the write is finished
        /// forward, never rolled back.
        var finish: [Match]?
        var committed: Bool?
    }

    /// What the journal names, as read back.
    struct Contents {
        var operation = ""
        var token: TokenIdentity?
        var pid: Int32 = 0
        var irreversible: String?
        var expected: [Expected] = []
        var finish: [Match]?
        var committed = false
    }

    let path: String
    private var fd: Int32
    private let session: Session
    private(set) var expected: [Expected] = []

    /// The attributes that identify an object without revealing anything secret.
    static let identifying: [AttributeType] = [
        .class, .keyType, .label, .id, .certificateType, .modulus, .publicExponent,
        .ecParams, .ecPoint, .subject, .application, .token, .private,
    ]
    /// The key flags a strict template holds.
    static let flags: [AttributeType] = [.sensitive, .extractable, .alwaysAuthenticate]

    /// Creates the journal of a write about to be made through `session`, and fsyncs it.
    /// `irreversible` says what an interrupted write leaves where nothing can be rolled back.
    init(operation: String, token: Token, session: Session, irreversible: String? = nil) throws(StoreError) {
        self.session = session
        let directory = try Self.directory(create: true)
        let marker = hex((0..<8).map { _ in UInt8.random(in: 0...255) })
        path = directory + "/import-\(TokenIdentity(token.info).fileKey)-\(marker).journal"
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError(
                .failed,
                "cannot create the import journal \(path): \(String(cString: strerror(errno))); nothing was written")
        }
        _ = flock(fd, LOCK_EX)
        do throws(StoreError) {
            try append(
                Line(
                    operation: operation, token: TokenIdentity(token.info), pid: getpid(), started: Date(),
                    irreversible: irreversible))
            syncDirectory(directory)
        } catch {
            unlink(path)
            throw error
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Records an object about to be created from `template`, counting what already matches.
    /// Call it before the C_CreateObject (or C_GenerateKeyPair) it is for.
    func expect(_ what: String, template: [Attribute]) throws(StoreError) {
        var matches: [Match] = []
        do throws(PKCS11Error) {
            for candidate in Self.templates(template) {
                matches.append(
                    Match(template: candidate.map(Self.stored), count: try session.findObjects(candidate).count))
            }
        } catch {
            throw StoreError(error, doing: "counting the objects like the \(what) before writing it")
        }
        let entry = Expected(what: what, matches: matches)
        try append(Line(expect: entry))
        expected.append(entry)
    }

    /// Records that the old objects of a replacement are about to be removed: every object now
    /// created, `old` the objects that will go. From here on a recovery finishes the write.
    func finishing(removing old: [Object]) throws(StoreError) {
        var targets: [Match] = []
        do throws(PKCS11Error) {
            for object in old {
                let template = try Self.identity(of: object)
                if let index = targets.firstIndex(where: { $0.template == template.map(Self.stored) }) {
                    targets[index].count -= 1
                } else {
                    targets.append(
                        Match(template: template.map(Self.stored), count: try session.findObjects(template).count - 1))
                }
            }
        } catch {
            throw StoreError(error, doing: "reading the objects to be replaced")
        }
        try append(Line(finish: targets))
    }

    /// The write is whole: the journal goes.
    func commit() {
        try? append(Line(committed: true))
        remove()
    }

    /// The write failed and was rolled back in-process: whatever that left of it goes too, and
    /// then the journal; should that fail, the journal stays for the next command.
    func undo() {
        do throws(PKCS11Error) {
            for entry in expected.reversed() { _ = try Self.trim(entry.matches, session: session) }
            remove()
        } catch {}
    }

    /// Takes every template down to its count, newest objects first; returns how many went.
    static func trim(_ matches: [Match], session: Session) throws(PKCS11Error) -> Int {
        var removed = 0
        for match in matches {
            let found = try session.findObjects(match.template.map(\.attribute))
            for object in found.suffix(max(0, found.count - match.count)) {
                try object.destroy()
                removed += 1
            }
        }
        return removed
    }

    /// The journal goes: the write is done with.
    private func remove() {
        unlink(path)
        close(fd)
        fd = -1
    }

    private func append(_ line: Line) throws(StoreError) {
        let bytes = Array((line.json + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            guard n > 0 else {
                throw StoreError(
                    .failed,
                    "cannot write the import journal \(path): \(String(cString: strerror(errno))); nothing more was written"
                )
            }
            offset += n
        }
        guard fsync(fd) == 0 else {
            throw StoreError(.failed, "cannot flush the import journal \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The strict and loose templates of an object about to be created from `template`.
    static func templates(_ template: [Attribute]) -> [[Attribute]] {
        let objectClass =
            template.first { $0.type == .class }.map { AttributeValues([.class: $0.value]).objectClass } ?? nil
        // A certificate's or record's value is public and names it; a key's CKA_VALUE never is.
        let valueIsPublic = objectClass == .certificate || objectClass == .data
        let strict = template.filter {
            identifying.contains($0.type) || flags.contains($0.type) || (valueIsPublic && $0.type == .value)
        }
        let loose = strict.filter { [.class, .label, .id].contains($0.type) }
        return strict == loose ? [strict] : [strict, loose]
    }

    /// The strict template of an object on the token, read back.
    static func identity(of object: Object) throws(PKCS11Error) -> [Attribute] {
        let values = try object.attributes(identifying + flags + [.value])
        let valueIsPublic = values.objectClass == .certificate || values.objectClass == .data
        return (identifying + flags + (valueIsPublic ? [.value] : [])).compactMap { type in
            values[type].map { Attribute(type, bytes: $0) }
        }
    }

    static func stored(_ attribute: Attribute) -> StoredAttribute {
        StoredAttribute(type: attribute.type.rawValue, value: hex(attribute.value))
    }

    /// `$XDG_STATE_HOME/certbridge`, else `~/.local/state/certbridge`. It must be a directory of
    /// the user's own that no one else can write to; `create` makes it (0700) when missing.
    static func directory(create: Bool) throws(StoreError) -> String {
        // getenv, not ProcessInfo's environment: every command asks (Store.recoverInterruptedWrites),
        // and building that dictionary was a measurable part of `certbridge tokens`.
        let variable = { (name: String) in getenv(name).map { String(cString: $0) } }
        let base: String
        if let state = variable("XDG_STATE_HOME"), state.hasPrefix("/") {
            base = state
        } else if let home = variable("HOME"), home.hasPrefix("/") {
            base = home + "/.local/state"
        } else {
            throw StoreError(
                .failed,
                "neither XDG_STATE_HOME nor HOME is set, so there is nowhere to keep the import journal; nothing was written"
            )
        }
        let directory = base + "/certbridge"
        if create {
            var partial = ""
            for component in directory.split(separator: "/") {
                partial += "/" + component
                if mkdir(partial, 0o700) != 0 && errno != EEXIST {
                    throw StoreError(
                        .failed,
                        "cannot make \(partial) for the import journal: \(String(cString: strerror(errno))); nothing was written"
                    )
                }
            }
        }
        var info = stat()
        guard lstat(directory, &info) == 0 else {
            if create {
                throw StoreError(
                    .failed, "cannot read \(directory): \(String(cString: strerror(errno))); nothing was written")
            }
            return directory
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw StoreError(
                .failed,
                "\(directory) is not a directory (a symbolic link is not followed); the import journal cannot be kept there; nothing was written"
            )
        }
        guard info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            throw StoreError(
                .failed,
                "\(directory) belongs to another user or can be written by others (mode \(String(info.st_mode & 0o777, radix: 8))); the import journal is not kept there; nothing was written"
            )
        }
        return directory
    }

    /// Reads a journal file, ignoring a last line the writer did not finish.
    static func read(fd: Int32) -> Contents? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while data.count < 16 << 20 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var contents = Contents()
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        lines.removeLast()  // after the last newline: empty, or a line cut short
        for text in lines {
            guard let line = try? decoder.decode(Line.self, from: Data(text)) else { break }
            if let token = line.token { contents.token = token }
            if let operation = line.operation { contents.operation = operation }
            if let pid = line.pid { contents.pid = pid }
            if let irreversible = line.irreversible { contents.irreversible = irreversible }
            if let expect = line.expect { contents.expected.append(expect) }
            if let finish = line.finish { contents.finish = finish }
            if line.committed == true { contents.committed = true }
        }
        return contents.token == nil ? nil : contents
    }
}

extension ImportJournal.TokenIdentity {
    // In an extension, so that the memberwise initializer stays (the journal tests use it).
    init(_ info: TokenInfo) {
        self.init(label: info.label, manufacturer: info.manufacturer, model: info.model, serial: info.serialNumber)
    }
}

#if DEBUG
    /// CERTBRIDGE_TEST_PAUSE_AFTER_OBJECT=N[:MS] (debug builds only): after the Nth object an
    /// import creates (0: once its journal is written, before the first), says so on stderr and
    /// sleeps MS milliseconds (default 200), so a test can kill it in the middle of its writes.
    func testPause(afterObject count: Int) {
        guard let spec = ProcessInfo.processInfo.environment["CERTBRIDGE_TEST_PAUSE_AFTER_OBJECT"] else { return }
        let parts = spec.split(separator: ":")
        guard let n = parts.first.flatMap({ Int($0) }), n == count else { return }
        pauseForTest("after object \(count)", milliseconds: parts.count > 1 ? UInt32(parts[1]) ?? 200 : 200)
    }

    /// CERTBRIDGE_TEST_PAUSE_EXPORT=MS (debug builds only): once an export's temporary file is
    /// written, says so on stderr and sleeps MS milliseconds.
    func testPauseExport() {
        guard let spec = ProcessInfo.processInfo.environment["CERTBRIDGE_TEST_PAUSE_EXPORT"],
            let milliseconds = UInt32(spec)
        else { return }
        pauseForTest("with the export's temporary file written", milliseconds: milliseconds)
    }

    private func pauseForTest(_ point: String, milliseconds: UInt32) {
        let message = Array("certbridge-test: paused \(point)\n".utf8)
        message.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
        usleep(milliseconds * 1000)
    }
#else
    @inline(__always) func testPause(afterObject count: Int) {}
    @inline(__always) func testPauseExport() {}
#endif
