internal import CPKCS11
import CSoftTokenCrypto

#if canImport(Glibc)
    import Glibc
#endif

/// One software token: its directory, its record, the objects it holds, and this process's
/// login state (shared by all the process's sessions on it, as PKCS#11 has it).
final class Token {
    let directory: TokenDirectory
    private(set) var record: TokenRecord
    private(set) var counters = PINCounters()
    /// Wrong key passwords in a row, per key (KeyTries.swift), as last read under the lock.
    var keyTries = KeyTries()
    /// The catalog (Catalog.swift): every token object's entry, read in one go the first time
    /// objects are needed (C_GetSlotList and C_GetTokenInfo read only the token and PIN files).
    private var catalog = Catalog()
    private var catalogLoaded = false
    /// Whether the login found catalog entries that are forged or changed without the key.
    private var catalogSuspect = false
    private var stamp = TokenDirectory.Stamp()
    /// Lookup by class, id and label over the catalog and the session objects, built at the
    /// first search that uses it: the integrity report's sweep needs none (`certbridge tokens`
    /// on a big token), and a quarter of reading a 50,000-entry catalog was building it.
    private var index = ObjectIndex()
    private var indexBuilt = false
    /// The objects read from their files (token objects, at most `loadedLimit`, read again when
    /// dropped) and the session objects, by handle.
    private var objects: [CK_OBJECT_HANDLE: TokenObject] = [:]
    private var loadedTokenObjects = 0
    /// A loaded object is about 3 KB (its attributes decoded one array each): 256 of them keep
    /// a listing's memory flat while every client's working set (a key, its certificate and
    /// public key, the objects of one search) stays loaded.
    private static let loadedLimit = 256
    /// Token objects refused for failing their integrity check, with the reason: kept out of
    /// every lookup, never used.
    private(set) var integrityFailures: [CK_OBJECT_HANDLE: String] = [:]
    /// Session objects by the session that made them, dropped when it closes.
    private var sessionObjects: [CK_SESSION_HANDLE: Set<CK_OBJECT_HANDLE>] = [:]

    /// Who is logged in from this process, and the master key while someone is.
    private(set) var loggedIn: CK_USER_TYPE?
    private var masterKey: [UInt8]?
    /// SHA-256 of a per-login random salt and the user PIN: a context login with the PIN is
    /// checked against it without running the KDF again.
    private var pinCheck: (salt: [UInt8], digest: [UInt8])?
    /// This process's last user login, kept when its last session closed (RememberedLogin).
    private var remembered: RememberedLogin?
    /// Whether the current login came from `remembered`, and the catalog (length and file) as
    /// the last check after a login left it.
    private var unlockedFromMemory = false
    private var checkedCatalog: (length: Int, identity: FileIdentity?)?

    init(directory: TokenDirectory) throws(CKRError) {
        self.directory = directory
        guard let bytes = try directory.read("token") else { throw CKRError(CKR.tokenNotRecognized) }
        record = try TokenRecord.decode(bytes)
        try directory.locked(exclusive: false) { () throws(CKRError) in try reloadHeader() }
        // Opening the token clears what killed writers left; a failure leaves only garbage.
        try? directory.removeLeftovers()
        if !directory.staleEpochFiles().isEmpty { try? removeStaleEpochs() }
    }

    /// Reads the catalog the first time objects are needed, and checks it against the objects
    /// folder (one pass, no file read for an object whose file is as the catalog has it).
    private func loadObjects() throws(CKRError) {
        guard !catalogLoaded else { return }
        var repairs: [(CK_OBJECT_HANDLE, CatalogEntry)] = []
        try directory.locked(exclusive: false) { () throws(CKRError) in
            try reloadHeader()
            repairs = try readCatalogLocked()
        }
        try? directory.removeLeftovers()
        if masterKey != nil {
            try? checkAfterLogin(sealsOpen: true)
        } else if !repairs.isEmpty {
            try? persist(repairs)
        }
    }

    /// The catalog read afresh and checked against the folder, under the token's lock.
    @discardableResult
    private func readCatalogLocked() throws(CKRError) -> [(CK_OBJECT_HANDLE, CatalogEntry)] {
        resetCatalog()
        try catchUp()
        let repairs = try survey()
        catalogLoaded = true
        index.removeAll()
        indexBuilt = false
        return repairs
    }

    // MARK: - Reading what other processes wrote

    /// Re-reads the directory when another process changed it since we last looked.
    func refresh() throws(CKRError) {
        guard directory.stamp() != stamp else { return }
        try directory.locked(exclusive: false) { () throws(CKRError) in
            try reloadWhatIsLoaded()
        }
    }

    /// Everything this process holds read: the catalog's new records too once it was loaded.
    private func reloadWhatIsLoaded() throws(CKRError) {
        try reloadHeader()
        if catalogLoaded { try catchUp() }
    }

    /// The token and PIN files only.
    private func reloadHeader() throws(CKRError) {
        stamp = directory.stamp()
        if let bytes = try directory.read("token") { record = try TokenRecord.decode(bytes) }
        if record.epoch != directory.epoch { switchEpoch() }
        counters = try PINCounters.decode(try directory.read("pins"))
        keyTries = KeyTries.decode(try directory.read(KeyTries.fileName))
    }

    /// Reads what was appended to the catalog since we last looked (all of it when it was
    /// compacted meanwhile), under the token's lock; objects whose entries changed are read again
    /// when next used.
    private func catchUp() throws(CKRError) {
        let known = catalog.fileIdentity
        var from = catalog.length
        guard let identity = directory.fileIdentity(of: directory.catalogName) else {
            if catalog.length > 0 { resetCatalog() }
            return
        }
        if identity.inode != known?.inode || Int(identity.size) < catalog.length {
            if catalog.length > 0 { resetCatalog() }
            from = 0
        }
        if identity == known { return }
        guard let (bytes, read) = try directory.readTail(directory.catalogName, from: from) else { return }
        // A first read changes nothing this process holds: it needs no list of what changed.
        let changed = catalog.apply(bytes, masterKey: masterKey, serial: record.serial, reportingChanges: catalogLoaded)
        catalog.fileIdentity = read
        if from == 0 { catalog.compactedLength = catalog.length }
        for (handle, old) in changed {
            // A first read is indexed whole afterwards (rebuildIndex).
            if catalogLoaded, let old { unindex(handle, old) }
            dropLoaded(handle)
            if catalogLoaded, let entry = catalog.entries[handle] { reindex(handle, entry) }
            if catalogLoaded, masterKey != nil, let problem = catalog.problem(handle) {
                integrityFailures[handle] = problem
                catalogSuspect = true
            }
        }
    }

    /// Starts the catalog afresh (the file was compacted or removed by another process).
    private func resetCatalog() {
        for (handle, entry) in catalog.entries {
            unindex(handle, entry)
            dropLoaded(handle)
        }
        catalog = Catalog()
    }

    /// One pass over objects/: files the catalog does not know (written by a process killed
    /// before its catalog record, or by an earlier version of the store) and files replaced
    /// since are read and checked; entries whose file is gone are dropped. Returns the entries
    /// learnt, to be written to the catalog.
    private func survey() throws(CKRError) -> [(CK_OBJECT_HANDLE, CatalogEntry)] {
        var seen = Set<CK_OBJECT_HANDLE>()
        var learnt: [(CK_OBJECT_HANDLE, CatalogEntry)] = []
        for (raw, inode) in try directory.objectFiles() {
            let handle = CK_OBJECT_HANDLE(raw)
            seen.insert(handle)
            if let entry = catalog.entries[handle], !entry.isDestroyed, entry.identity.inode == inode { continue }
            guard let (bytes, identity) = try directory.readIdentified(directory.objectName(UInt64(handle))) else {
                continue
            }
            if let entry = check(handle, bytes: bytes, identity: identity) {
                catalog.entries[handle] = entry
                learnt.append((handle, entry))
            }
        }
        for (handle, entry) in catalog.entries where !entry.isDestroyed && !seen.contains(handle) {
            // Removed before its tombstone was written (a killed destroy), or by hand: a file
            // put back later is refused as a destroyed object's.
            catalog.entries[handle] = CatalogEntry(
                generation: Catalog.destroyed, identity: FileIdentity(), digest: FileDigest(),
                isPrivate: entry.isPrivate, searchable: nil, record: entry.record, sealedRecord: entry.sealedRecord)
        }
        return learnt
    }

    /// Checks an object file that differs from its catalog entry (or has none): the entry it
    /// deserves, or nil with the reason recorded when it must be refused. A private file is
    /// only checked for its header here; its seal is opened at the login.
    private func check(_ handle: CK_OBJECT_HANDLE, bytes: [UInt8], identity: FileIdentity) -> CatalogEntry? {
        let name = String(handle, radix: 16)
        guard let object = try? TokenObject.read(handle: handle, bytes: bytes, masterKey: nil) else {
            integrityFailures[handle] = "object \(name) is damaged (not an object file)"
            return nil
        }
        let digest = FileDigest(of: bytes)
        if let entry = catalog.entries[handle] {
            if !entry.isDestroyed && digest == entry.digest {
                var same = entry
                same.identity = identity
                return same
            }
            if entry.isDestroyed {
                integrityFailures[handle] = "object \(name) was destroyed; its file was put back"
                return nil
            }
            if object.generation < entry.generation {
                integrityFailures[handle] =
                    "object \(name) is an older copy (generation \(object.generation), expected \(entry.generation) or later)"
                return nil
            }
            if object.generation == entry.generation && digest != entry.digest {
                integrityFailures[handle] =
                    "object \(name) was changed outside the token (its file does not match the index)"
                return nil
            }
            // Newer than its entry: a writer killed between its file and its record. A private
            // file proves itself by its seal; a public one vouched for under the token key cannot.
            if object.generation > entry.generation && !object.isPrivate && entry.sealedRecord >= 0 {
                integrityFailures[handle] = "object \(name) was changed without the token key"
                return nil
            }
        }
        return CatalogEntry(
            generation: object.generation, identity: identity, digest: digest, isPrivate: object.isPrivate,
            searchable: object.isPrivate ? nil : Catalog.searchableBytes(object.attributes),
            record: -1, sealedRecord: catalog.entries[handle]?.sealedRecord ?? -1)
    }

    /// Writes entries learnt from the files to the catalog (sealed when logged in), so the next
    /// process does not read those files again. Entries already vouched for under the token key
    /// are written only with the key.
    private func persist(_ learnt: [(CK_OBJECT_HANDLE, CatalogEntry)]) throws(CKRError) {
        let writable = learnt.filter { masterKey != nil || $0.1.sealedRecord < 0 }
        guard !writable.isEmpty else { return }
        try directory.locked(exclusive: true) { () throws(CKRError) in
            let before = directory.stamp()
            try catchUp()
            for (handle, entry) in writable { catalog.entries[handle] = entry }
            try appendRecord(writable)
            if before == stamp { stamp = directory.stamp() }
        }
    }

    /// Appends one record to the catalog (under the exclusive lock, caught up), and compacts the
    /// log when it has grown past its last compaction.
    private func appendRecord(_ changes: [(CK_OBJECT_HANDLE, CatalogEntry)]) throws(CKRError) {
        var bytes = try Catalog.record(changes, masterKey: masterKey, serial: record.serial)
        var offset = catalog.length
        if offset == 0 { bytes = Catalog.magic + bytes }
        if offset < 4 { offset = 0 }
        try directory.append(directory.catalogName, bytes, at: offset)
        _ = catalog.apply(bytes, masterKey: masterKey, serial: record.serial)
        catalog.fileIdentity = directory.fileIdentity(of: directory.catalogName)
        if let masterKey, !catalogSuspect, catalog.length > 2 * catalog.compactedLength + 65_536 {
            try compact(masterKey)
        }
    }

    /// Rewrites the catalog as one sealed record (under the exclusive lock, caught up).
    private func compact(_ masterKey: [UInt8]) throws(CKRError) {
        let bytes = try catalog.compacted(masterKey: masterKey, serial: record.serial)
        try directory.write(directory.catalogName, bytes)
        let entries = catalog.entries
        catalog = Catalog()
        _ = catalog.apply(bytes, masterKey: masterKey, serial: record.serial)
        // Entries the seal could not carry (private ones not opened) keep what was known.
        for (handle, entry) in entries where catalog.entries[handle] == nil { catalog.entries[handle] = entry }
        catalog.fileIdentity = directory.fileIdentity(of: directory.catalogName)
        catalog.compactedLength = catalog.length
        if directory.fileIdentity(of: "manifest") != nil { try directory.remove("manifest") }
    }

    /// At login (or when the catalog is first read while logged in): the seals opened, each
    /// entry checked, files the catalog learnt without the key opened, the old manifest of an
    /// earlier version applied; then the catalog is rewritten under the key if it needs it.
    /// `sealsOpen`: the catalog was just read with the key, which opened every seal as it went.
    private func checkAfterLogin(sealsOpen: Bool = false) throws(CKRError) {
        guard let masterKey, catalogLoaded else { return }
        // A login from the remembered one, on a catalog no write changed since the last check:
        // that check holds, and the private entries it opened are open still.
        if unlockedFromMemory, let checked = checkedCatalog, checked.length == catalog.length,
            checked.identity == catalog.fileIdentity
        {
            return
        }
        checkedCatalog = nil
        var sealsOpen = sealsOpen
        if !sealsOpen && catalog.hasUnkeptSeals {
            // Its seals were opened as it was read and not kept: read afresh with the key.
            try directory.locked(exclusive: false) { () throws(CKRError) in _ = try readCatalogLocked() }
            sealsOpen = true
        }
        if !sealsOpen {
            closePrivateEntries()
            catalog.openAll(masterKey: masterKey)
        }
        var needsCompaction = false
        var learnt: [CK_OBJECT_HANDLE] = []
        catalogSuspect = false
        for (handle, entry) in catalog.entries {
            if let problem = catalog.problem(handle) {
                integrityFailures[handle] = problem
                catalogSuspect = true
                continue
            }
            if entry.isPrivate && !entry.isDestroyed && entry.searchable == nil { learnt.append(handle) }
            if entry.record < 0 || entry.sealedRecord != entry.record { needsCompaction = true }
        }
        // Private files the catalog knows only from the files themselves: opened once, here.
        for handle in learnt {
            guard let (bytes, _) = try? directory.readIdentified(directory.objectName(UInt64(handle))),
                let object = try? TokenObject.read(handle: handle, bytes: bytes, masterKey: masterKey)
            else {
                integrityFailures[handle] =
                    "object \(String(handle, radix: 16)) does not open under the token key (damaged or foreign)"
                catalog.entries[handle] = nil
                continue
            }
            catalog.entries[handle]?.searchable = Catalog.searchableBytes(object.attributes)
            object.attributes.wipeAll()
        }
        // The rollback floors of the store before the catalog.
        if let old = try? Manifest.open(try directory.read("manifest"), masterKey: masterKey, serial: record.serial),
            !old.floors.isEmpty
        {
            needsCompaction = true
            for (handle, floor) in old.floors {
                if let entry = catalog.entries[handle], !entry.isDestroyed {
                    if let problem = old.problem(handle, generation: entry.generation) {
                        integrityFailures[handle] = problem
                    }
                } else if floor == Manifest.destroyed {
                    catalog.entries[handle] = CatalogEntry(
                        generation: Catalog.destroyed, identity: FileIdentity(), digest: FileDigest(),
                        isPrivate: false, searchable: nil, record: -1, sealedRecord: -1)
                }
            }
        }
        if sealsOpen {
            // The read indexed every entry whose attributes it knew: only the ones learnt here are new.
            for handle in learnt { if let entry = catalog.entries[handle] { reindex(handle, entry) } }
        } else {
            for (handle, entry) in catalog.entries where entry.isPrivate { reindex(handle, entry) }
        }
        // A catalog with forged or unvouched entries is left as it is: rewritten under the key,
        // it would vouch for them. Entries whose files failed stay: they are the evidence.
        if needsCompaction && !catalogSuspect {
            try directory.locked(exclusive: true) { () throws(CKRError) in
                let before = directory.stamp()
                try catchUp()
                try compact(masterKey)
                if before == stamp { stamp = directory.stamp() }
            }
        }
        checkedCatalog = (catalog.length, catalog.fileIdentity)
    }

    /// Takes the private objects' attributes out of memory and out of the lookup.
    private func closePrivateEntries() {
        for (handle, entry) in catalog.entries where entry.isPrivate && entry.searchable != nil {
            unindex(handle, entry)
        }
        _ = catalog.closePrivate()
    }

    /// Puts an entry in the lookup (a private one once its attributes are known).
    private func reindex(_ handle: CK_OBJECT_HANDLE, _ entry: CatalogEntry) {
        guard indexBuilt, !entry.isDestroyed, let searchable = entry.searchable else { return }
        index.add(handle) { Catalog.value($0, in: searchable) }
    }

    private func unindex(_ handle: CK_OBJECT_HANDLE, _ entry: CatalogEntry) {
        guard indexBuilt, let searchable = entry.searchable else { return }
        index.remove(handle) { Catalog.value($0, in: searchable) }
    }

    private func rebuildIndex() {
        index.removeAll()
        indexBuilt = true
        for (handle, entry) in catalog.entries { reindex(handle, entry) }
        for object in objects.values where !object.isToken { index.add(object.handle) { object.attributes[$0]?[...] } }
    }

    /// Drops a token object read from its file (it is read again when next used); `wiping`
    /// its attributes and key too (at logout).
    private func dropLoaded(_ handle: CK_OBJECT_HANDLE, wiping: Bool = false) {
        guard let object = objects[handle], object.isToken else { return }
        objects[handle] = nil
        loadedTokenObjects -= 1
        if wiping {
            object.attributes.wipeAll()
            object.cachedKey = nil
        }
    }

    /// A token object read from its file and checked against its catalog entry; private ones
    /// only while the user is logged in. A file that fails its check is refused and reported.
    private func load(_ handle: CK_OBJECT_HANDLE) -> TokenObject? {
        guard let entry = catalog.entries[handle], !entry.isDestroyed, integrityFailures[handle] == nil else {
            return nil
        }
        if entry.isPrivate && !canSeePrivate { return nil }
        let name = String(handle, radix: 16)
        guard let (bytes, identity) = try? directory.readIdentified(directory.objectName(UInt64(handle))) else {
            return nil
        }
        if identity != entry.identity {
            guard FileDigest(of: bytes) == entry.digest || check(handle, bytes: bytes, identity: identity) != nil else {
                return nil
            }
        }
        guard
            let object = try? TokenObject.read(
                handle: handle, bytes: bytes, masterKey: entry.isPrivate ? masterKey : nil),
            object.isReadable, object.generation >= entry.generation
        else {
            integrityFailures[handle] =
                entry.isPrivate
                ? "object \(name) does not open under the token key (damaged or foreign)"
                : "object \(name) is damaged (not an object file)"
            unindex(handle, entry)
            return nil
        }
        if loadedTokenObjects >= Self.loadedLimit {
            for (other, loaded) in objects where loaded.isToken && !(loaded.isPrivate && loaded.cachedKey != nil) {
                dropLoaded(other)
            }
        }
        objects[handle] = object
        loadedTokenObjects += 1
        return object
    }

    /// Checks every object file against the catalog by its identity (one stat each), reading
    /// only the ones that changed: for the integrity report.
    private func sweep() {
        for (handle, entry) in catalog.entries where !entry.isDestroyed && integrityFailures[handle] == nil {
            if entry.isPrivate && !canSeePrivate { continue }
            let name = directory.objectName(UInt64(handle))
            guard let identity = directory.fileIdentity(of: name), identity != entry.identity else { continue }
            guard let (bytes, now) = try? directory.readIdentified(name) else { continue }
            if FileDigest(of: bytes) != entry.digest, check(handle, bytes: bytes, identity: now) == nil {
                unindex(handle, entry)
                dropLoaded(handle)
            }
        }
    }

    /// Removes the files of other key epochs than the token file's (a key change killed before
    /// or after its commit), under the exclusive lock, which every key change holds throughout.
    private func removeStaleEpochs() throws(CKRError) {
        try directory.locked(exclusive: true) { () throws(CKRError) in
            try reloadHeader()
            for stale in directory.staleEpochFiles() {
                directory.removeFolder(stale)
                unlink(directory.path + "/" + stale)
            }
        }
    }

    // MARK: - Info

    var label: [UInt8] { record.label }
    var serial: String { record.serial }

    var flags: CK_FLAGS {
        var flags = CKF.rng | CKF.loginRequired | CKF.tokenInitialized | CKF.restoreKeyNotNeeded
        if record.userPINInitialized { flags |= CKF.userPINInitialized }
        flags |= PINCounters.flags(
            counters.user, low: CKF.userPINCountLow, finalTry: CKF.userPINFinalTry, locked: CKF.userPINLocked)
        flags |= PINCounters.flags(
            counters.so, low: CKF.soPINCountLow, finalTry: CKF.soPINFinalTry, locked: CKF.soPINLocked)
        return flags
    }

    // MARK: - Login

    /// C_Login for the user or the SO: counts the try durably, then checks the PIN by opening
    /// the master key with it.
    func login(_ user: CK_USER_TYPE, pin: [UInt8]) throws(CKRError) {
        if let loggedIn {
            throw CKRError(loggedIn == user ? CKR.userAlreadyLoggedIn : CKR.userAnotherAlreadyLoggedIn)
        }
        let key = try unlock(user, pin: pin)
        masterKey = key
        loggedIn = user
        // The catalog's seals are opened and its entries checked now, if it was read; else
        // when it is first read.
        do throws(CKRError) {
            try checkAfterLogin()
        } catch {
            logout()
            throw error
        }
        if user == CKU.user, unlockedFromMemory, let remembered {
            // The same PIN as the remembered login's: its salted digest serves the context logins.
            pinCheck = remembered.check
        } else if user == CKU.user {
            let salt = try randomBytes(32)
            pinCheck = (salt, Self.pinDigest(salt: salt, pin: pin))
            remembered = RememberedLogin(masterKey: key, pin: pin, record: record)
        }
        // Private objects are opened when used, not here.
    }

    /// The counted PIN check: the master key, opened with the PIN (for the SO through the
    /// escrow); the caller wipes it.
    func unlock(_ user: CK_USER_TYPE, pin: [UInt8]) throws(CKRError) -> [UInt8] {
        var secret = try unlockSecret(user, pin: pin)
        guard user == CKU.so, let copy = record.soMasterCopy, let sealed = record.soPrivate else { return secret }
        defer { wipe(&secret) }
        // The SO PIN opens the SO key, the SO key the SO's private key, that the master key.
        guard let master = SOEscrow.open(copy, sealedPrivate: sealed, soKey: secret) else {
            throw CKRError(CKR.deviceError)
        }
        return master
    }

    /// The counted PIN check: what the PIN opens (the master key for the user; the SO key, or the
    /// master key on a token without the SO escrow, for the SO); the caller wipes it.
    func unlockSecret(_ user: CK_USER_TYPE, pin: [UInt8]) throws(CKRError) -> [UInt8] {
        try directory.locked(exclusive: true) { () throws(CKRError) -> [UInt8] in
            // The counters checked below are those on disk: read again unless nothing changed
            // since this process last read them (a login per object, as p11tool makes, then
            // reads no file).
            if directory.stamp() != stamp { try reloadWhatIsLoaded() }
            let isSO = user == CKU.so
            guard isSO || record.userPINInitialized else { throw CKRError(CKR.userPINNotInitialized) }
            let salt = isSO ? record.soSalt : record.userSalt!
            let wrapped = isSO ? record.soWrapped : record.userWrapped!
            var tries = counters
            guard (isSO ? tries.so : tries.user) < PINCounters.limit else { throw CKRError(CKR.pinLocked) }
            // The PIN of this process's last user login, while the token file still wraps the key
            // as then, is known right without the key derivation (RememberedLogin): it clears
            // the count of wrong tries, if any, and writes nothing else. Any other PIN is counted
            // on disk before its check, as always, so that a process killed during the check
            // still used up the try.
            unlockedFromMemory = false
            if !isSO, let master = remembered?.masterKey(pin: pin, record: record) {
                unlockedFromMemory = true
                tries.user = 0
                // Under the lock, only our own write changes the directory: without one (no
                // wrong try to clear) the stamp is still current.
                if try writeCounters(tries) { stamp = directory.stamp() }
                return master
            }
            if isSO { tries.so += 1 } else { tries.user += 1 }
            try writeCounters(tries)
            var derived = try Sealing.deriveKey(pin, salt: salt, iterations: record.iterations)
            defer { wipe(&derived) }
            guard let master = Sealing.open(wrapped, key: derived, aad: Self.wrapAAD(so: isSO)) else {
                stamp = directory.stamp()
                // The try that uses up the last one says so.
                throw CKRError((isSO ? tries.so : tries.user) >= PINCounters.limit ? CKR.pinLocked : CKR.pinIncorrect)
            }
            if isSO { tries.so = 0 } else { tries.user = 0 }
            try writeCounters(tries)
            // We hold the lock since reload(): the directory changed only by our own writes.
            stamp = directory.stamp()
            return master
        }
    }

    /// C_Login(CKU_CONTEXT_SPECIFIC) with the user PIN: compared in constant time with the
    /// digest kept since the user login.
    func checkUserPIN(_ pin: [UInt8]) -> Bool {
        guard let pinCheck else { return false }
        let digest = Self.pinDigest(salt: pinCheck.salt, pin: pin)
        return digest.count == pinCheck.digest.count && cbst_equal(digest, pinCheck.digest, digest.count) == 1
    }

    /// C_Logout: the master key, the PIN digest and every opened private object are wiped; the
    /// remembered login too, unless the login ended only because its last session closed.
    func logout(keepingRememberedLogin: Bool = false) {
        let keeping = keepingRememberedLogin && remembered != nil
        if !keeping {
            remembered = nil
            checkedCatalog = nil
        }
        if var key = masterKey { wipe(&key) }
        masterKey = nil
        loggedIn = nil
        pinCheck = nil
        for (handle, object) in objects where object.isToken && object.isPrivate { dropLoaded(handle, wiping: true) }
        // Kept with the remembered login (which holds the key that opens them anyway), hidden
        // while no one is logged in: a login per object (p11tool) then costs no catalog pass.
        if !keeping { closePrivateEntries() }
        // Private session objects die with the login.
        for (session, handles) in sessionObjects {
            for handle in handles where objects[handle]?.isPrivate == true { forget(handle, session: session) }
        }
    }

    /// C_InitPIN (SO logged in: the master key under the new user PIN), the SO's C_SetPIN (the
    /// SO key, or the master key on a token without the escrow, under the new SO PIN), and the
    /// user's C_SetPIN on such a token (the master key rewrapped).
    func setPIN(_ user: CK_USER_TYPE, to pin: [UInt8], masterKey given: [UInt8]? = nil) throws(CKRError) {
        remembered = nil
        guard let masterKey = given ?? masterKey else { throw CKRError(CKR.userNotLoggedIn) }
        let salt = try randomBytes(16)
        var derived = try Sealing.deriveKey(pin, salt: salt, iterations: record.iterations)
        defer { wipe(&derived) }
        let wrapped = try Sealing.seal(masterKey, key: derived, aad: Self.wrapAAD(so: user == CKU.so))
        try directory.locked(exclusive: true) { () throws(CKRError) in
            try reloadWhatIsLoaded()
            var updated = record
            var tries = counters
            if user == CKU.so {
                updated.soSalt = salt
                updated.soWrapped = wrapped
                tries.so = 0
            } else {
                updated.userSalt = salt
                updated.userWrapped = wrapped
                tries.user = 0
            }
            try directory.write("token", updated.encoded())
            try writeCounters(tries)
            record = updated
            stamp = directory.stamp()
        }
        if user == CKU.user && loggedIn == CKU.user {
            let salt = try randomBytes(32)
            pinCheck = (salt, Self.pinDigest(salt: salt, pin: pin))
        }
    }

    /// Another process changed the user PIN (a new master key, a new epoch): what this process
    /// read is dropped, and a login here ends, as its key no longer opens anything.
    private func switchEpoch() {
        directory.epoch = record.epoch
        if loggedIn != nil { logout() }
        // A new epoch is a new master key: the remembered one opens nothing of it.
        remembered = nil
        checkedCatalog = nil
        for (handle, object) in objects where object.isToken { dropLoaded(handle, wiping: true) }
        resetCatalog()
        catalogLoaded = false
        integrityFailures = [:]
        stamp = directory.stamp()
    }

    /// C_SetPIN of the user: a new master key, with every private object and the catalog sealed
    /// again under it, in one atomic step. The next epoch's files are written beside the current
    /// ones (public object files linked, not copied), flushed, and committed by replacing the
    /// `token` file; a kill before that leaves the old state (the next open removes the half-made
    /// epoch), after it the new one (the old epoch is removed). The SO's copy of the key is
    /// renewed through the escrow. A token without the escrow (made before it) only rewraps its
    /// key, as the SO could not follow a new one.
    func changeUserPIN(to pin: [UInt8], oldMaster: [UInt8]) throws(CKRError) {
        remembered = nil
        guard let soPublic = record.soPublic else { return try setPIN(CKU.user, to: pin, masterKey: oldMaster) }
        try loadObjects()
        var fresh = try randomBytes(32)
        defer { wipe(&fresh) }
        let salt = try randomBytes(16)
        var derived = try Sealing.deriveKey(pin, salt: salt, iterations: record.iterations)
        defer { wipe(&derived) }
        let wrapped = try Sealing.seal(fresh, key: derived, aad: Self.wrapAAD(so: false))
        let soCopy = try SOEscrow.seal(master: fresh, to: soPublic)
        try directory.locked(exclusive: true) { () throws(CKRError) in
            try reloadWhatIsLoaded()
            if !catalogLoaded { try readCatalogLocked() }
            let oldEpoch = record.epoch
            let newEpoch = oldEpoch &+ 1
            let oldFolder = directory.objectsFolder
            let newFolder = TokenDirectory.objectsFolder(newEpoch)
            try directory.makeEmptyFolder(newFolder)
            var changes: [(CK_OBJECT_HANDLE, CatalogEntry)] = []
            for (handle, entry) in catalog.entries.sorted(by: { $0.key < $1.key }) {
                if entry.isDestroyed {
                    changes.append((handle, entry))
                    continue
                }
                let hex = String(handle, radix: 16)
                let oldName = oldFolder + "/" + hex
                let newName = newFolder + "/" + hex
                var next = entry
                if entry.isPrivate {
                    guard let (bytes, _) = try directory.readIdentified(oldName) else { continue }
                    if let object = try? TokenObject.read(handle: handle, bytes: bytes, masterKey: oldMaster) {
                        let sealed = try object.fileBytes(masterKey: fresh)
                        next.searchable = Catalog.searchableBytes(object.attributes)
                        object.attributes.wipeAll()
                        try directory.write(newName, sealed, sync: false)
                        next.digest = FileDigest(of: sealed)
                    } else {
                        // A file that fails its check goes over as it is, and stays refused.
                        try directory.write(newName, bytes, sync: false)
                    }
                } else {
                    guard directory.fileIdentity(of: oldName) != nil else { continue }
                    try directory.link(oldName, as: newName)
                }
                next.identity = directory.fileIdentity(of: newName) ?? FileIdentity()
                changes.append((handle, next))
            }
            try directory.write(
                TokenDirectory.catalogName(newEpoch),
                Catalog.magic + (try Catalog.record(changes, masterKey: fresh, serial: record.serial)), sync: false)
            directory.syncAll()
            var updated = record
            updated.userSalt = salt
            updated.userWrapped = wrapped
            updated.soMasterCopy = soCopy
            updated.epoch = newEpoch
            Self.pauseForTests("CERTBRIDGE_SOFTTOKEN_TEST_PAUSE_BEFORE_COMMIT")
            // The commit.
            try directory.write("token", updated.encoded())
            record = updated
            var tries = counters
            tries.user = 0
            try writeCounters(tries)
            // The old epoch goes; this process goes on with the new key.
            let wasLoggedIn = loggedIn
            let key = masterKey.map { _ in fresh }
            switchEpoch()
            directory.removeFolder(oldFolder)
            unlink(directory.path + "/" + TokenDirectory.catalogName(oldEpoch))
            if directory.fileIdentity(of: "manifest") != nil { try? directory.remove("manifest") }
            if let wasLoggedIn, let key {
                loggedIn = wasLoggedIn
                masterKey = key
            }
            stamp = directory.stamp()
        }
        if loggedIn == CKU.user {
            let check = try randomBytes(32)
            pinCheck = (check, Self.pinDigest(salt: check, pin: pin))
        }
    }

    /// Stops here while the named environment variable names an existing file, for tests that
    /// kill the process at this point (a key change about to commit).
    private static func pauseForTests(_ variable: String) {
        guard let path = getenv(variable).map({ String(cString: $0) }) else { return }
        while access(path, F_OK) == 0 { usleep(1_000) }
    }

    /// Runs `body` under the token's exclusive lock with the state freshly read; what `body`
    /// writes counts as seen.
    func exclusively<R>(_ body: () throws(CKRError) -> R) throws(CKRError) -> R {
        try directory.locked(exclusive: true) { () throws(CKRError) -> R in
            try reloadWhatIsLoaded()
            defer { stamp = directory.stamp() }
            return try body()
        }
    }

    /// Writes the PIN counters when they changed; whether it wrote.
    @discardableResult
    private func writeCounters(_ tries: PINCounters) throws(CKRError) -> Bool {
        guard tries != counters else { return false }
        try directory.write("pins", tries.encoded())
        counters = tries
        return true
    }

    static func wrapAAD(so: Bool) -> [UInt8] {
        Array((so ? "certbridge master key: so" : "certbridge master key: user").utf8)
    }

    /// SHA-256 of salt ‖ PIN; the concatenation, which holds the PIN, is wiped.
    static func pinDigest(salt: [UInt8], pin: [UInt8]) -> [UInt8] {
        var salted = salt + pin
        defer { wipe(&salted) }
        return digest(salted)
    }

    static func digest(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBufferPointer { digest($0) }
    }

    static func digest(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = cbst_digest("SHA256", bytes.baseAddress, bytes.count, &out)
        return out
    }

    // MARK: - Objects

    /// Whether the caller may see private objects now.
    var canSeePrivate: Bool { loggedIn == CKU.user }

    /// The object for a handle, if it exists and this login may see it.
    func object(_ handle: CK_OBJECT_HANDLE) -> TokenObject? {
        if handle == Self.reportHandle { return integrityReport }
        try? loadObjects()
        guard let object = objects[handle] ?? load(handle) else { return nil }
        guard !object.isPrivate || canSeePrivate else { return nil }
        return object
    }

    /// A token object's searchable attributes (Catalog.searchable) of `types` from its catalog
    /// entry, as an object of those attributes only, when its file is as the catalog has it (one
    /// stat, no read); nil when the object is loaded already or must be read (C_GetAttributeValue
    /// of class, id or label needs no object file).
    func catalogView(_ handle: CK_OBJECT_HANDLE, for types: [CK_ATTRIBUTE_TYPE]) -> TokenObject? {
        guard objects[handle] == nil, let entry = catalog.entries[handle], !entry.isDestroyed,
            integrityFailures[handle] == nil, !entry.isPrivate || canSeePrivate, let searchable = entry.searchable,
            directory.fileIdentity(of: directory.objectName(UInt64(handle))) == entry.identity
        else { return nil }
        // Only the attributes asked for, read in place (a call asks for one or two).
        var attributes = AttributeMap()
        for type in types { if let value = Catalog.value(type, in: searchable) { attributes[type] = Array(value) } }
        return TokenObject(handle: handle, isPrivate: entry.isPrivate, session: nil, attributes: attributes)
    }

    /// The objects this login may see whose attributes equal `template`'s (C_FindObjectsInit);
    /// hidden attributes match nothing. A template of searchable attributes only (class, id,
    /// label, …) is answered from the catalog without reading any object file.
    func matching(_ template: AttributeMap) throws(CKRError) -> [CK_OBJECT_HANDLE] {
        try loadObjects()
        if template[CKA.class]?.ulong == CKO.integrityReport {
            // Asked for: every object file this login can check is checked now.
            sweep()
            return [Self.reportHandle]
        }
        if template.keys.contains(where: { CKA.hidden.contains($0) }) { return [] }
        let fromCatalog = template.keys.allSatisfy { Catalog.searchable.contains($0) }
        var found: [CK_OBJECT_HANDLE] = []
        func consider(_ handle: CK_OBJECT_HANDLE) {
            if let object = objects[handle], !object.isToken {
                if (!object.isPrivate || canSeePrivate)
                    && template.allSatisfy({ object.attributes[$0.key] == $0.value })
                {
                    found.append(handle)
                }
                return
            }
            guard let entry = catalog.entries[handle], !entry.isDestroyed, integrityFailures[handle] == nil,
                !entry.isPrivate || canSeePrivate
            else { return }
            if fromCatalog, let searchable = entry.searchable {
                guard template.allSatisfy({ Catalog.value($0.key, in: searchable).map(Array.init) == $0.value }) else {
                    return
                }
                // One stat, no read: a file changed since its entry is checked before it is offered.
                if objects[handle] == nil,
                    directory.fileIdentity(of: directory.objectName(UInt64(handle))) != entry.identity,
                    object(handle) == nil
                {
                    return
                }
                found.append(handle)
            } else if let object = object(handle), template.allSatisfy({ object.attributes[$0.key] == $0.value }) {
                found.append(handle)
            }
        }
        // A template without an indexed attribute (a listing of everything) needs no index.
        let usesIndex = template.keys.contains { ObjectIndex.indexed.contains($0) }
        if usesIndex && !indexBuilt { rebuildIndex() }
        if usesIndex, let candidates = index.candidates(for: template) {
            for handle in candidates { consider(handle) }
        } else {
            for handle in catalog.entries.keys { consider(handle) }
            for session in sessionObjects.values { for handle in session { consider(handle) } }
        }
        return found
    }

    /// The handle of the integrity report (outside the 48-bit range of object handles).
    static let reportHandle: CK_OBJECT_HANDLE = 0x1_0000_0000_0001

    /// The integrity report object (CKO.integrityReport): the number of objects that failed
    /// their check and, in its label, why; read-only, not destroyable.
    private var integrityReport: TokenObject {
        let reasons = integrityFailures.sorted { $0.key < $1.key }.map(\.value).joined(separator: "\n")
        return TokenObject(
            handle: Self.reportHandle, isPrivate: false, session: nil,
            attributes: [
                CKA.class: [UInt8](ulong: CKO.integrityReport), CKA.token: [1], CKA.private: [0], CKA.modifiable: [0],
                CKA.destroyable: [0], CKA.copyable: [0], CKA.label: Array(reasons.utf8),
                CKA.integrityFailures: [UInt8](ulong: CK_ULONG(integrityFailures.count)),
            ])
    }

    /// A handle no object uses, token or session.
    func newHandle() throws(CKRError) -> CK_OBJECT_HANDLE {
        try loadObjects()
        while true {
            var raw = try randomBytes(6)
            defer { wipe(&raw) }
            let handle = raw.reduce(CK_OBJECT_HANDLE(0)) { $0 << 8 | CK_OBJECT_HANDLE($1) }
            // Not a destroyed object's either: its tombstone would refuse the new one.
            guard handle != 0, objects[handle] == nil, catalog.entries[handle] == nil else { continue }
            if try directory.read(directory.objectName(UInt64(handle))) == nil { return handle }
        }
    }

    /// Whether a token object may be changed by this login: one vouched for under the token
    /// key changes only with the key, so a change without it cannot pass for the token's own.
    private func mayChange(_ handle: CK_OBJECT_HANDLE) -> Bool {
        masterKey != nil || (catalog.entries[handle]?.sealedRecord ?? -1) < 0
    }

    /// Adds (or replaces) an object: token objects are written first (the object file, then its
    /// catalog record), so the cache never holds what the disk does not.
    func store(_ object: TokenObject) throws(CKRError) {
        try loadObjects()
        if object.isToken {
            guard mayChange(object.handle) else { throw CKRError(CKR.userNotLoggedIn) }
            let name = directory.objectName(UInt64(object.handle))
            try directory.locked(exclusive: true) { () throws(CKRError) in
                let before = directory.stamp()
                try catchUp()
                // A rewrite is a new generation: the catalog then refuses every older copy.
                if let old = catalog.entries[object.handle], !old.isDestroyed { object.generation = old.generation + 1 }
                let bytes = try object.fileBytes(masterKey: masterKey)
                try directory.write(name, bytes)
                let entry = CatalogEntry(
                    generation: object.generation, identity: directory.fileIdentity(of: name) ?? FileIdentity(),
                    digest: FileDigest(of: bytes), isPrivate: object.isPrivate,
                    searchable: Catalog.searchableBytes(object.attributes), record: -1, sealedRecord: -1)
                if let old = catalog.entries[object.handle] { unindex(object.handle, old) }
                try appendRecord([(object.handle, entry)])
                // Only our own writes changed the directory: no reload needed.
                if before == stamp { stamp = directory.stamp() }
            }
            dropLoaded(object.handle)
            objects[object.handle] = object
            loadedTokenObjects += 1
            if let entry = catalog.entries[object.handle] { reindex(object.handle, entry) }
            return
        }
        if indexBuilt, let old = objects[object.handle] { index.remove(old.handle) { old.attributes[$0]?[...] } }
        objects[object.handle] = object
        if indexBuilt { index.add(object.handle) { object.attributes[$0]?[...] } }
        if let session = object.session { sessionObjects[session, default: []].insert(object.handle) }
    }

    /// Drops a session object from memory and from every lookup.
    private func forget(_ handle: CK_OBJECT_HANDLE, session: CK_SESSION_HANDLE) {
        guard let object = objects.removeValue(forKey: handle) else { return }
        if indexBuilt { index.remove(handle) { object.attributes[$0]?[...] } }
        sessionObjects[session]?.remove(handle)
        if sessionObjects[session]?.isEmpty == true { sessionObjects[session] = nil }
    }

    /// Removes an object from the disk and the cache. A token object's file goes first, then its
    /// tombstone is recorded: a kill between the two leaves an entry without a file, dropped
    /// when next read, and a file put back after the tombstone is refused.
    func destroy(_ object: TokenObject) throws(CKRError) {
        guard object.isToken else {
            if let session = object.session { forget(object.handle, session: session) }
            return
        }
        guard mayChange(object.handle) else { throw CKRError(CKR.userNotLoggedIn) }
        try directory.locked(exclusive: true) { () throws(CKRError) in
            let before = directory.stamp()
            try catchUp()
            try directory.remove(directory.objectName(UInt64(object.handle)))
            if let old = catalog.entries[object.handle] { unindex(object.handle, old) }
            try appendRecord([
                (
                    object.handle,
                    CatalogEntry(
                        generation: Catalog.destroyed, identity: FileIdentity(), digest: FileDigest(),
                        isPrivate: object.isPrivate, searchable: nil, record: -1, sealedRecord: -1)
                )
            ])
            if before == stamp { stamp = directory.stamp() }
        }
        dropLoaded(object.handle)
    }

    /// Drops the session objects of a closed session.
    func dropSessionObjects(of session: CK_SESSION_HANDLE) {
        for handle in sessionObjects[session] ?? [] { forget(handle, session: session) }
    }

    // MARK: - Creating a token

    /// C_InitToken: a new record with a new master key wrapped under the SO PIN; every object
    /// and the user PIN are gone. An existing token needs its SO PIN.
    static func initialize(
        directory: TokenDirectory, existing: Token?, soPIN: [UInt8], label: [UInt8], serial: String,
        iterations: UInt32
    ) throws(CKRError) -> Token {
        if let existing {
            // Proves the SO PIN (and counts the try) before anything is erased.
            var proven = try existing.unlock(CKU.so, pin: soPIN)
            wipe(&proven)
        }
        var master = try randomBytes(32)
        defer { wipe(&master) }
        var soKey = try randomBytes(32)
        defer { wipe(&soKey) }
        let salt = try randomBytes(16)
        var derived = try Sealing.deriveKey(soPIN, salt: salt, iterations: iterations)
        defer { wipe(&derived) }
        var record = TokenRecord(
            label: label, serial: serial, iterations: iterations, soSalt: salt,
            soWrapped: try Sealing.seal(soKey, key: derived, aad: wrapAAD(so: true)))
        let pair = try SOEscrow.makeKeyPair(soKey: soKey)
        record.soPublic = pair.publicPoint
        record.soPrivate = pair.sealedPrivate
        record.soMasterCopy = try SOEscrow.seal(master: master, to: pair.publicPoint)
        try directory.locked(exclusive: true) { () throws(CKRError) in
            try directory.removeAllObjects()
            try directory.remove("manifest")
            // Back to epoch 0: the folders of a re-keyed token go.
            directory.epoch = 0
            for stale in directory.staleEpochFiles() {
                directory.removeFolder(stale)
                unlink(directory.path + "/" + stale)
            }
            guard mkdir(directory.path + "/objects", 0o700) == 0 || errno == EEXIST else {
                throw CKRError(CKR.deviceError)
            }
            try directory.write("token", record.encoded())
        }
        return try Token(directory: directory)
    }
}
