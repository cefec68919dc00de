#if canImport(Glibc)
    import Glibc
#endif

/// One token's directory: `token` (label, PIN-wrapped master keys), `pins` (failed-try counters),
/// `objects/` (one file per token object) and `lock`. Every write goes to a temporary file that
/// is fsynced and renamed over the old one, and the directory is fsynced after, so a kill at
/// any instant leaves either the old or the new file. Writers hold an exclusive flock on `lock`,
/// readers a shared one, so processes sharing the token see whole states.
final class TokenDirectory {
    let path: String
    /// fsync after each write (the default). CERTBRIDGE_SOFTTOKEN_FSYNC=0 keeps writes atomic (a
    /// killed process still leaves the old or the new file) but lets a power loss drop the
    /// newest ones: for throwaway tokens in tests and benchmarks that make thousands of objects.
    private static let durable: Bool = getenv("CERTBRIDGE_SOFTTOKEN_FSYNC").map { String(cString: $0) != "0" } ?? true
    /// The key epoch whose files are in use (TokenRecord.epoch): epoch 0 keeps its objects in
    /// `objects/` and its catalog in `index`, epoch N in `objects-N/` and `index-N`.
    var epoch: UInt32 = 0
    static func objectsFolder(_ epoch: UInt32) -> String { epoch == 0 ? "objects" : "objects-\(epoch)" }
    static func catalogName(_ epoch: UInt32) -> String { epoch == 0 ? "index" : "index-\(epoch)" }
    var objectsFolder: String { Self.objectsFolder(epoch) }
    var catalogName: String { Self.catalogName(epoch) }
    /// An object's file, relative to the token directory.
    func objectName(_ handle: UInt64) -> String { objectsFolder + "/" + String(handle, radix: 16) }
    private var objectsPath: String { path + "/" + objectsFolder }

    init(path: String) { self.path = path }

    deinit { if opened >= 0 { close(opened) } }

    /// The token directory, opened once: the reads and stats of its files (several per PKCS#11
    /// call) go relative to it, a walk of one or two names instead of the whole path. -1 when it
    /// could not be opened (the full path is used then).
    private lazy var opened: Int32 = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)

    /// stat(2) of a file of the directory.
    private func status(of name: String, _ info: inout stat) -> Bool {
        opened >= 0 ? fstatat(opened, name, &info, 0) == 0 : stat(path + "/" + name, &info) == 0
    }

    /// Makes the directory (0700) with its objects folder.
    static func create(path: String) throws(CKRError) -> TokenDirectory {
        guard mkdir(path, 0o700) == 0 || errno == EEXIST, mkdir(path + "/objects", 0o700) == 0 || errno == EEXIST else {
            throw CKRError(CKR.deviceError)
        }
        return TokenDirectory(path: path)
    }

    /// Runs `body` holding the token's lock, exclusive for writers.
    func locked<R>(exclusive: Bool, _ body: () throws(CKRError) -> R) throws(CKRError) -> R {
        // O_NOFOLLOW: a planted symlink named `lock` is refused, never opened through.
        let fd = open(path + "/lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CKRError(CKR.deviceError) }
        defer { close(fd) }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            guard errno == EINTR else { throw CKRError(CKR.deviceError) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// The whole file, or nil when it does not exist. The files read whole (token, pins, key
    /// tries, manifest, audit head, object files) are replaced by rename, never grown in place,
    /// so the size fstat gives is the whole file; the catalog, which grows, is read by readTail.
    func read(_ name: String) throws(CKRError) -> [UInt8]? {
        try readTail(name, from: 0)?.bytes
    }

    /// Replaces `name` with `bytes` atomically and durably (0600). The temporary file has an
    /// unpredictable name and is created O_EXCL|O_NOFOLLOW, so nothing planted in the directory
    /// (a symlink to another file, a file opened by someone else) is written through.
    func write(_ name: String, _ bytes: [UInt8], sync: Bool = true) throws(CKRError) {
        let target = path + "/" + name
        let suffix = try randomBytes(8).map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        let temporary = target + ".tmp-" + suffix
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CKRError(CKR.deviceError) }
        var ok = true
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    ok = false
                    return
                }
                done += n
            }
        }
        ok = ok && (!Self.durable || !sync || fsync(fd) == 0)
        close(fd)
        guard ok, rename(temporary, target) == 0 else {
            unlink(temporary)
            throw CKRError(CKR.deviceError)
        }
        if sync { syncDirectory(of: target) }
    }

    /// The whole file with the identity it had when read, or nil when it does not exist.
    func readIdentified(_ name: String) throws(CKRError) -> (bytes: [UInt8], identity: FileIdentity)? {
        try readTail(name, from: 0)
    }

    /// The file from `offset` on (empty when it is shorter) with its identity, or nil when it
    /// does not exist: a log read again reads only what was appended.
    func readTail(_ name: String, from offset: Int) throws(CKRError) -> (bytes: [UInt8], identity: FileIdentity)? {
        let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC
        let fd = opened >= 0 ? openat(opened, name, flags) : open(path + "/" + name, flags)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw CKRError(CKR.deviceError)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CKRError(CKR.deviceError) }
        let size = Int(info.st_size)
        guard size > offset else { return ([], Self.identity(info)) }
        var out = [UInt8](repeating: 0, count: size - offset)
        var done = 0
        while done < out.count {
            let n = out.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw CKRError(CKR.deviceError)
            }
            if n == 0 { break }
            done += n
        }
        out.removeLast(out.count - done)
        return (out, Self.identity(info))
    }

    /// Appends `bytes` to `name` at `offset`, cutting off whatever follows it (a record torn by a
    /// killed writer); 0600, never through a symlink, fsynced. The caller holds the exclusive lock.
    func append(_ name: String, _ bytes: [UInt8], at offset: Int) throws(CKRError) {
        let fd = open(path + "/" + name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CKRError(CKR.deviceError) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_nlink == 1 else { throw CKRError(CKR.deviceError) }
        if Int(info.st_size) > offset {
            guard ftruncate(fd, off_t(offset)) == 0 else { throw CKRError(CKR.deviceError) }
        }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CKRError(CKR.deviceError)
            }
            done += n
        }
        guard !Self.durable || fsync(fd) == 0 else { throw CKRError(CKR.deviceError) }
        if info.st_size == 0 { syncDirectory(of: path + "/" + name) }
    }

    /// A file's identity (inode, size, change time), or nil when it is gone.
    func fileIdentity(of name: String) -> FileIdentity? {
        var info = stat()
        guard status(of: name, &info) else { return nil }
        return Self.identity(info)
    }

    private static func identity(_ info: stat) -> FileIdentity {
        FileIdentity(
            inode: UInt64(info.st_ino), size: UInt64(info.st_size),
            changed: UInt64(info.st_ctim.tv_sec) &* 1_000_000_000 &+ UInt64(info.st_ctim.tv_nsec))
    }

    /// The object files by handle with their inode numbers, from one pass over the folder (no
    /// stat per file); temporaries and names that are no handle are left out.
    func objectFiles() throws(CKRError) -> [(handle: UInt64, inode: UInt64)] {
        guard let dir = opendir(objectsPath) else { throw CKRError(CKR.deviceError) }
        defer { closedir(dir) }
        var files: [(UInt64, UInt64)] = []
        sawLeftovers = false
        while let entry = readdir(dir) {
            let inode = UInt64(entry.pointee.d_ino)
            var handle: UInt64 = 0
            var valid = true
            var length = 0
            var temporary = false
            withUnsafeBytes(of: entry.pointee.d_name) { raw in
                for byte in raw {
                    if byte == 0 { break }
                    length += 1
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): handle = handle << 4 | UInt64(byte - UInt8(ascii: "0"))
                    case UInt8(ascii: "a")...UInt8(ascii: "f"):
                        handle = handle << 4 | UInt64(byte - UInt8(ascii: "a") + 10)
                    case UInt8(ascii: "."):
                        temporary = true
                        valid = false
                    default: valid = false
                    }
                }
            }
            if temporary && length > 2 { sawLeftovers = true }
            if valid && length > 0 && length <= 16 { files.append((handle, inode)) }
        }
        return files
    }

    /// Makes `folder` (0700) empty: what a killed key change left there is removed first.
    func makeEmptyFolder(_ folder: String) throws(CKRError) {
        removeFolder(folder)
        guard mkdir(path + "/" + folder, 0o700) == 0 else { throw CKRError(CKR.deviceError) }
    }

    /// Removes a folder of object files with everything in it; a missing one is no error.
    func removeFolder(_ folder: String) {
        for name in Self.entries(of: path + "/" + folder) ?? [] { unlink(path + "/" + folder + "/" + name) }
        rmdir(path + "/" + folder)
    }

    /// A second name for a file (link(2)): a key change carries public object files over into
    /// the next epoch's folder without copying them.
    func link(_ name: String, as other: String) throws(CKRError) {
        guard Glibc.link(path + "/" + name, path + "/" + other) == 0 else { throw CKRError(CKR.deviceError) }
    }

    /// Flushes every write to disk (sync(2), which on Linux waits for it), so that many files
    /// written without their own fsync are durable before the one rename that commits them.
    func syncAll() {
        guard Self.durable else { return }
        sync()
    }

    /// Object folders and catalogs of other epochs than the current one: a key change killed
    /// before its commit (the next epoch's) or after it (the previous one's).
    func staleEpochFiles() -> [String] {
        let current = [objectsFolder, catalogName]
        return (Self.entries(of: path) ?? []).filter { name in
            !current.contains(name) && !name.contains(".tmp-")
                && (name == "objects" || name == "index" || name.hasPrefix("objects-") || name.hasPrefix("index-"))
        }
    }

    /// Removes `name` durably; a missing file is not an error.
    func remove(_ name: String) throws(CKRError) {
        let target = path + "/" + name
        guard unlink(target) == 0 || errno == ENOENT else { throw CKRError(CKR.deviceError) }
        syncDirectory(of: target)
    }

    /// Whether the last objectNames() passed over temporaries a killed writer left behind.
    private(set) var sawLeftovers = false

    /// The object file names (without temporaries a killed writer left behind).
    func objectNames() throws(CKRError) -> [String] {
        guard let all = Self.entries(of: objectsPath) else { throw CKRError(CKR.deviceError) }
        sawLeftovers = all.contains { $0.contains(".tmp-") }
        return all.filter { !$0.hasPrefix(".") && !$0.contains(".tmp-") }
    }

    /// The names in a folder (without "." and ".."), or nil when it cannot be read.
    static func entries(of folder: String) -> [String]? {
        guard let dir = opendir(folder) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes the temporary files of writers killed between their write and their rename, if
    /// the last objectNames() or a look at the token directory found any. Every writer holds the
    /// exclusive lock from its temporary file to its rename, so under that lock any temporary
    /// file is a dead writer's.
    func removeLeftovers() throws(CKRError) {
        guard sawLeftovers || !Self.temporaries(in: path).isEmpty else { return }
        try locked(exclusive: true) { () throws(CKRError) in
            for folder in [path, objectsPath] {
                for name in Self.temporaries(in: folder) { unlink(folder + "/" + name) }
            }
        }
        sawLeftovers = false
    }

    private static func temporaries(in folder: String) -> [String] {
        (entries(of: folder) ?? []).filter { $0.contains(".tmp-") }
    }

    /// What changes whenever an object, the catalog, the token file, the PIN counters or the key
    /// tries are written, renamed or removed: the identity (inode, size, change time) of the
    /// token directory, of `objects/` and of the catalog. Every write of `token`, `pins` and
    /// `keytries` (and of a compacted catalog) is a temporary file renamed into the token
    /// directory, which changes the directory; an object's, into `objects/`; only the catalog is
    /// appended to in place. Three stats, where one per file was five: a client that logs in
    /// and searches once per object (p11tool) takes several stamps per object. An unchanged
    /// stamp means the process's copies of them are current (a login reads none of them again).
    ///
    /// Kernels before 6.13 stamp files from a coarse clock (one tick, up to 10 ms), so two
    /// changes within a tick can leave a file with the same identity: `objects/` keeps its inode
    /// and size, and a file replaced twice can get its old inode back with the same size. A
    /// process that looked between them would never see the second. A stamp taken within two
    /// ticks of a change to any of them is therefore made unique (git's "racily clean" rule):
    /// the next look reads them again.
    func stamp() -> Stamp {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nanoseconds = UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
        var result = Stamp()
        var racy = false
        func look(_ name: String) -> FileIdentity {
            guard let identity = fileIdentity(of: name) else { return FileIdentity() }
            if nanoseconds < identity.changed &+ 20_000_000 { racy = true }
            return identity
        }
        result.directory = look(".")
        result.folder = look(objectsFolder)
        result.catalog = look(catalogName)
        if racy {
            Self.racyStamps += 1
            result.racy = Self.racyStamps
        }
        return result
    }

    /// See `stamp()`.
    struct Stamp: Equatable {
        var directory = FileIdentity(), folder = FileIdentity(), catalog = FileIdentity()
        var racy = 0
    }

    /// Makes each racy stamp differ from every other (all calls run under the provider's lock).
    nonisolated(unsafe) private static var racyStamps = 0

    /// Removes every object file and the PIN counters (C_InitToken).
    func removeAllObjects() throws(CKRError) {
        for name in try objectNames() { try remove(objectsFolder + "/" + name) }
        try remove("pins")
        try remove(KeyTries.fileName)
        try remove(catalogName)
    }

    private func syncDirectory(of file: String) {
        guard Self.durable, let slash = file.lastIndex(of: "/") else { return }
        let fd = open(String(file[..<slash]), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// Subdirectories of `root` that hold a token file, sorted by name.
    static func tokens(in root: String) -> [String] {
        (entries(of: root) ?? []).filter { !$0.hasPrefix(".") && access(root + "/" + $0 + "/token", F_OK) == 0 }
            .sorted()
    }

    /// Makes `path` and its missing parents (0700).
    static func makeDirectories(_ path: String) throws(CKRError) {
        var current = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST { throw CKRError(CKR.deviceError) }
        }
    }
}
