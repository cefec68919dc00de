import FoundationEssentials
internal import PKCS11

#if canImport(Glibc)
    import Glibc
#endif

extension Store {
    /// Finishes the writes a killed certbridge left half-done on this token, as their journals
    /// (ImportJournal.swift) say: one that was still creating objects is rolled back (every
    /// object it added goes, key shells whose labels and ids are still empty included); one that
    /// was removing the old objects of a replacement is finished; one that had committed is only
    /// cleared away. A journal whose writer still runs (it holds its lock) is left alone. Each
    /// recovery is said through `report`. Objects a login hides are reached only in a logged-in
    /// session: without one the journal waits for the next command that logs in.
    func recoverInterruptedWrites(on token: Token) {
        // The identity itself is the key (its interpolated description went through reflection,
        // and so did a missing directory's FileManager error: together about 2 ms of every
        // `certbridge tokens`).
        let identity = ImportJournal.TokenIdentity(token.info)
        guard !journalsChecked.contains(identity) else { return }
        var waiting = false
        defer { if !waiting { journalsChecked.append(identity) } }
        guard let directory = try? ImportJournal.directory(create: false), let names = Self.fileNames(in: directory)
        else { return }
        let key = identity.fileKey
        for name in names.sorted() {
            // Another token's journal is not opened (its name says whose it is).
            guard let parts = ImportJournal.nameParts(name), parts.token.map({ $0 == key }) ?? true else { continue }
            let path = directory + "/" + name
            let fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid() else { continue }
            // The writer holds the lock while it runs; the kernel lets go of it when it dies.
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            guard let journal = ImportJournal.read(fd: fd) else { continue }
            guard journal.token == identity else {
                // An earlier release's name, for another token: named for that token from now on
                // (the lock, on the file, stays), so the commands on this one skip it unread.
                if parts.token == nil, let owner = journal.token {
                    rename(path, directory + "/import-\(owner.fileKey)-\(parts.marker).journal")
                }
                continue
            }
            if journal.committed || recover(journal, on: token) { unlink(path) } else { waiting = true }
        }
    }

    /// The names in a directory (readdir), or nil when it cannot be read (as when missing).
    static func fileNames(in directory: String) -> [String]? {
        guard let stream = opendir(directory) else { return nil }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Rolls one interrupted write back (or forward); true when the journal is done with.
    private func recover(_ journal: ImportJournal.Contents, on token: Token) -> Bool {
        let tokenName = "\"\(token.info.label)\""
        let what = journal.operation.isEmpty ? "import" : journal.operation
        if let irreversible = journal.irreversible {
            report("an \(what) on token \(tokenName) was interrupted: \(irreversible)")
            return true
        }
        do throws(PKCS11Error) {
            let session = try token.openSession(readWrite: true)
            let templates = journal.finish?.map(\.template) ?? journal.expected.flatMap { $0.matches.map(\.template) }
            if token.info.flags.contains(.loginRequired), !(try session.state().isUserLoggedIn),
                templates.contains(where: Self.namesHiddenObjects)
            {
                report(
                    "an interrupted \(what) on token \(tokenName) left objects that only a login shows; they are rolled back by the next command that logs in to it"
                )
                return false
            }
            if let finish = journal.finish {
                let removed = try ImportJournal.trim(finish, session: session)
                report(
                    "finished an interrupted \(what) on token \(tokenName): everything had been written; removed \(removed) replaced object(s)"
                )
                return true
            }
            var removed = 0
            for expected in journal.expected.reversed() {
                removed += try ImportJournal.trim(expected.matches, session: session)
            }
            removed += try removeShells(of: journal.expected, session: session)
            report(
                "rolled back an interrupted \(what) on token \(tokenName): "
                    + (removed == 0 ? "it had written nothing" : "removed the \(removed) object(s) it had written"))
            return true
        } catch {
            report(
                "could not roll back an interrupted \(what) on token \(tokenName) (\(error)); it is tried again by the next command"
            )
            return false
        }
    }

    /// Removes the objects a kill in the middle of C_CreateObject can leave: SoftHSM2 writes an
    /// empty object file and fills in its defaults one by one before the template lands, so an
    /// object of a class the write was creating may have no label, no id and no value or key.
    private func removeShells(of expected: [ImportJournal.Expected], session: Session) throws(PKCS11Error) -> Int {
        let classes = Set(
            expected.compactMap { entry in
                entry.matches.first?.template.first { $0.type == AttributeType.class.rawValue }?.value
            })
        guard !classes.isEmpty else { return 0 }
        var removed = 0
        for object in try session.findObjects([]) {
            let values = try? object.attributes([.class, .label, .id, .value, .modulus, .ecParams, .ecPoint])
            if let values {
                let empty = { (type: AttributeType) in values[type]?.isEmpty ?? true }
                guard empty(.label), empty(.id), [AttributeType.value, .modulus, .ecParams, .ecPoint].allSatisfy(empty)
                else { continue }
                if let objectClass = values[.class], !classes.contains(hex(objectClass)) { continue }
            }
            // Unreadable, or with none of what makes an object: a shell.
            do throws(PKCS11Error) {
                try object.destroy()
                removed += 1
            } catch  where error.returnValue == .objectHandleInvalid {}
        }
        return removed
    }

    /// Whether a template names private keys or other objects a login hides.
    private static func namesHiddenObjects(_ template: [ImportJournal.StoredAttribute]) -> Bool {
        template.contains { attribute in
            (attribute.type == AttributeType.class.rawValue
                && [ObjectClass.privateKey, .secretKey].contains { hex(Attribute($0).value) == attribute.value })
                || (attribute.type == AttributeType.private.rawValue && attribute.value == "01")
        }
    }
}
