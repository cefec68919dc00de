internal import CPKCS11
import CSoftTokenCrypto

/// One software token: its directory, its record, the objects it holds, and this process's
/// login state (shared by all the process's sessions on it, as PKCS#11 has it).
final class Token {
    let directory: TokenDirectory
    private(set) var record: TokenRecord
    private(set) var counters = PINCounters()
    /// Token and session objects by handle; token objects are read on first use, not at open,
    /// so C_GetSlotList and C_GetTokenInfo read only the token and PIN files.
    private var objects: [CK_OBJECT_HANDLE: TokenObject] = [:]
    private var objectsLoaded = false
    private var stamp: [Int] = []
    /// Lookup by class, id and label over the readable objects.
    private var index = ObjectIndex()
    /// Private token objects still sealed, and those opened since the login (sealed again at
    /// logout), so neither a find nor a logout walks every object.
    private var sealedObjects: Set<CK_OBJECT_HANDLE> = []
    private var openedObjects: Set<CK_OBJECT_HANDLE> = []
    /// The rollback evidence, read while someone is logged in (it opens with the master key);
    /// nil otherwise, or when the manifest file does not open (then no private object is used).
    private var manifest: Manifest?
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

    init(directory: TokenDirectory) throws(CKRError) {
        self.directory = directory
        guard let bytes = try directory.read("token") else { throw CKRError(CKR.tokenNotRecognized) }
        record = try TokenRecord.decode(bytes)
        try directory.locked(exclusive: false) { () throws(CKRError) in try reloadHeader() }
        // Opening the token clears what killed writers left; a failure leaves only garbage.
        try? directory.removeLeftovers()
    }

    /// Reads the object files the first time objects are needed.
    private func loadObjects() throws(CKRError) {
        guard !objectsLoaded else { return }
        try directory.locked(exclusive: false) { () throws(CKRError) in try reload() }
        try? directory.removeLeftovers()
    }

    // MARK: - Reading what other processes wrote

    /// Re-reads the directory when another process changed it since we last looked.
    func refresh() throws(CKRError) {
        guard directory.stamp() != stamp else { return }
        try directory.locked(exclusive: false) { () throws(CKRError) in
            try reloadWhatIsLoaded()
        }
    }

    /// Everything this process holds read: the objects too once they were loaded.
    private func reloadWhatIsLoaded() throws(CKRError) {
        if objectsLoaded { try reload() } else { try reloadHeader() }
    }

    /// The token and PIN files only.
    private func reloadHeader() throws(CKRError) {
        stamp = directory.stamp()
        if let bytes = try directory.read("token") { record = try TokenRecord.decode(bytes) }
        counters = try PINCounters.decode(try directory.read("pins"))
    }

    private func reload() throws(CKRError) {
        try reloadHeader()
        // Found again by this reading and by the opening of private objects after it.
        integrityFailures = [:]
        var fresh = objects.filter { !$0.value.isToken }
        for name in try directory.objectNames() {
            guard let handle = CK_OBJECT_HANDLE(name, radix: 16) else { continue }
            // Every write renames a new file into place, so an unchanged identity (inode, size,
            // times) is an unchanged object: it keeps its object (and its opened key) unread.
            let identity = directory.identity(of: "objects/" + name)
            if let old = objects[handle], old.isToken, identity != nil, old.fileIdentity == identity {
                fresh[handle] = old
                continue
            }
            guard let bytes = try directory.read("objects/" + name) else { continue }
            if let old = objects[handle], old.isToken, old.isPrivate, old.file == bytes {
                old.fileIdentity = identity
                fresh[handle] = old
                continue
            }
            // Private objects stay sealed until used (object(_:), a find).
            guard let object = try? TokenObject.read(handle: handle, bytes: bytes, masterKey: nil) else {
                integrityFailures[handle] = "object \(String(handle, radix: 16)) is damaged (not an object file)"
                continue
            }
            object.fileIdentity = identity
            fresh[handle] = object
        }
        if masterKey != nil { readManifest() }
        if let manifest {
            for (handle, _) in manifest.floors {
                guard let object = fresh[handle], object.isToken, let problem = manifest.problem(handle, generation: object.generation) else { continue }
                fresh[handle] = nil
                integrityFailures[handle] = problem
            }
        }
        objects = fresh
        objectsLoaded = true
        index.removeAll()
        sealedObjects = []
        openedObjects = []
        for object in fresh.values {
            if object.isReadable { index.add(object) } else { sealedObjects.insert(object.handle) }
            if object.isReadable && object.isPrivate && object.isToken { openedObjects.insert(object.handle) }
        }
    }

    /// Reads the manifest with the master key (under the token's lock).
    private func readManifest() {
        guard let masterKey else { manifest = nil; return }
        do throws(CKRError) {
            manifest = try Manifest.open(try directory.read("manifest"), masterKey: masterKey, serial: record.serial)
        } catch {
            manifest = nil
        }
    }

    /// Opens a sealed private object with the master key, while the user is logged in; one that
    /// does not open (damaged, foreign, its generation forged) is refused and reported.
    private func open(_ object: TokenObject) {
        guard !object.isReadable, canSeePrivate, let masterKey else { return }
        guard manifest != nil else {
            integrityFailures[object.handle] = "the token's manifest does not open under the token key"
            return
        }
        guard (try? object.unseal(masterKey: masterKey)) != nil else {
            integrityFailures[object.handle] = "object \(String(object.handle, radix: 16)) does not open under the token key (damaged or foreign)"
            forget(object.handle, session: nil)
            return
        }
        sealedObjects.remove(object.handle)
        openedObjects.insert(object.handle)
        index.add(object)
    }

    // MARK: - Info

    var label: [UInt8] { record.label }
    var serial: String { record.serial }

    var flags: CK_FLAGS {
        var flags = CKF.rng | CKF.loginRequired | CKF.tokenInitialized | CKF.restoreKeyNotNeeded
        if record.userPINInitialized { flags |= CKF.userPINInitialized }
        flags |= PINCounters.flags(counters.user, low: CKF.userPINCountLow, finalTry: CKF.userPINFinalTry, locked: CKF.userPINLocked)
        flags |= PINCounters.flags(counters.so, low: CKF.soPINCountLow, finalTry: CKF.soPINFinalTry, locked: CKF.soPINLocked)
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
        try directory.locked(exclusive: false) { () throws(CKRError) in readManifest() }
        if objectsLoaded, let manifest {
            for (handle, _) in manifest.floors {
                guard let object = objects[handle], object.isToken, let problem = manifest.problem(handle, generation: object.generation) else { continue }
                forget(handle, session: nil)
                integrityFailures[handle] = problem
            }
        }
        if user == CKU.user {
            let salt = try randomBytes(32)
            pinCheck = (salt, Self.pinDigest(salt: salt, pin: pin))
        }
        // Private objects are opened when used, not here.
    }

    /// The counted PIN check: the master key, opened with the PIN; the caller wipes it.
    func unlock(_ user: CK_USER_TYPE, pin: [UInt8]) throws(CKRError) -> [UInt8] {
        try directory.locked(exclusive: true) { () throws(CKRError) -> [UInt8] in
            try reloadWhatIsLoaded()
            let isSO = user == CKU.so
            guard isSO || record.userPINInitialized else { throw CKRError(CKR.userPINNotInitialized) }
            let salt = isSO ? record.soSalt : record.userSalt!
            let wrapped = isSO ? record.soWrapped : record.userWrapped!
            var tries = counters
            guard (isSO ? tries.so : tries.user) < PINCounters.limit else { throw CKRError(CKR.pinLocked) }
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

    /// C_Logout: the master key, the PIN digest and every opened private object are wiped.
    func logout() {
        if var key = masterKey { wipe(&key) }
        masterKey = nil
        loggedIn = nil
        pinCheck = nil
        manifest = nil
        for handle in openedObjects {
            guard let object = objects[handle] else { continue }
            index.remove(object)
            object.lock(sealed: object.file.count > object.bodyOffset ? Array(object.file[object.bodyOffset...]) : [])
            sealedObjects.insert(handle)
        }
        openedObjects = []
        // Private session objects die with the login.
        for (session, handles) in sessionObjects {
            for handle in handles where objects[handle]?.isPrivate == true { forget(handle, session: session) }
        }
    }

    /// C_InitPIN (SO logged in) and C_SetPIN: the master key rewrapped under a new PIN.
    func setPIN(_ user: CK_USER_TYPE, to pin: [UInt8], masterKey given: [UInt8]? = nil) throws(CKRError) {
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

    private func writeCounters(_ tries: PINCounters) throws(CKRError) {
        guard tries != counters else { return }
        try directory.write("pins", tries.encoded())
        counters = tries
    }

    static func wrapAAD(so: Bool) -> [UInt8] { Array((so ? "certbridge master key: so" : "certbridge master key: user").utf8) }

    /// SHA-256 of salt ‖ PIN; the concatenation, which holds the PIN, is wiped.
    static func pinDigest(salt: [UInt8], pin: [UInt8]) -> [UInt8] {
        var salted = salt + pin
        defer { wipe(&salted) }
        return digest(salted)
    }

    static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = cbst_digest("SHA256", bytes, bytes.count, &out)
        return out
    }

    // MARK: - Objects

    /// Whether the caller may see private objects now.
    var canSeePrivate: Bool { loggedIn == CKU.user }

    /// The object for a handle, if it exists and this login may see it.
    func object(_ handle: CK_OBJECT_HANDLE) -> TokenObject? {
        if handle == Self.reportHandle { return integrityReport }
        try? loadObjects()
        guard let object = objects[handle] else { return nil }
        open(object)
        guard object.isReadable, !object.isPrivate || canSeePrivate else { return nil }
        return object
    }

    /// The objects this login may see whose attributes equal `template`'s (C_FindObjectsInit);
    /// hidden attributes match nothing.
    func matching(_ template: AttributeMap) throws(CKRError) -> [CK_OBJECT_HANDLE] {
        try loadObjects()
        if template[CKA.class]?.ulong == CKO.integrityReport {
            // Asked for: every object this login can check is checked now.
            if canSeePrivate { for handle in sealedObjects { if let object = objects[handle] { open(object) } } }
            return [Self.reportHandle]
        }
        // A find for public objects only leaves the sealed ones sealed.
        if canSeePrivate && !sealedObjects.isEmpty && template[CKA.private]?.bool != false {
            for handle in sealedObjects { if let object = objects[handle] { open(object) } }
        }
        let candidates = index.candidates(for: template).map { $0.compactMap { objects[$0] } } ?? Array(objects.values)
        return candidates.filter { object in
            object.isReadable && (!object.isPrivate || canSeePrivate)
                && template.allSatisfy { type, value in !CKA.hidden.contains(type) && object.attributes[type] == value }
        }.map(\.handle)
    }

    /// The handle of the integrity report (outside the 48-bit range of object handles).
    static let reportHandle: CK_OBJECT_HANDLE = 0x1_0000_0000_0001

    /// The integrity report object (CKO.integrityReport): the number of objects that failed
    /// their check and, in its label, why; read-only, not destroyable.
    private var integrityReport: TokenObject {
        let reasons = integrityFailures.sorted { $0.key < $1.key }.map(\.value).joined(separator: "\n")
        return TokenObject(handle: Self.reportHandle, isPrivate: false, session: nil, attributes: [
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
            guard handle != 0, objects[handle] == nil, manifest?.floors[handle] == nil else { continue }
            if try directory.read("objects/" + String(handle, radix: 16)) == nil { return handle }
        }
    }

    /// Adds (or replaces) an object: token objects are written first, so the cache never holds
    /// what the disk does not.
    func store(_ object: TokenObject) throws(CKRError) {
        try loadObjects()
        if object.isToken {
            // A rewrite is a new generation: the manifest then refuses every older copy.
            if let old = objects[object.handle], old.isToken { object.generation = old.generation + 1 }
            let bytes = try object.fileBytes(masterKey: masterKey)
            try directory.locked(exclusive: true) { () throws(CKRError) in
                let before = directory.stamp()
                try directory.write("objects/" + String(object.handle, radix: 16), bytes)
                object.fileIdentity = directory.identity(of: "objects/" + String(object.handle, radix: 16))
                // After the object file: a crash between the two leaves a file newer than its floor.
                if object.generation > 0 { try raiseFloor(object.handle, to: object.generation) }
                // Only our own write changed the directory: no reload needed.
                if before == stamp { stamp = directory.stamp() }
            }
            object.file = object.isPrivate ? bytes : []
        }
        if let old = objects[object.handle] { index.remove(old) }
        objects[object.handle] = object
        index.add(object)
        if let session = object.session { sessionObjects[session, default: []].insert(object.handle) }
        if object.isToken && object.isPrivate { openedObjects.insert(object.handle) }
    }

    /// Drops an object from memory and from every lookup.
    private func forget(_ handle: CK_OBJECT_HANDLE, session: CK_SESSION_HANDLE?) {
        guard let object = objects.removeValue(forKey: handle) else { return }
        index.remove(object)
        sealedObjects.remove(handle)
        openedObjects.remove(handle)
        if let session {
            sessionObjects[session]?.remove(handle)
            if sessionObjects[session]?.isEmpty == true { sessionObjects[session] = nil }
        }
    }

    /// Removes an object from the disk and the cache.
    func destroy(_ object: TokenObject) throws(CKRError) {
        if object.isToken {
            try directory.locked(exclusive: true) { () throws(CKRError) in
                let before = directory.stamp()
                // The tombstone first: a crash between the two leaves a file that is refused.
                try raiseFloor(object.handle, to: Manifest.destroyed)
                try directory.remove("objects/" + String(object.handle, radix: 16))
                if before == stamp { stamp = directory.stamp() }
            }
        }
        forget(object.handle, session: object.session)
    }

    /// Records in the manifest (read afresh, as other processes write it too) that the object's
    /// files below `generation` are stale. Without a login there is no key to seal it with, and
    /// the change leaves no evidence (public objects only: private ones need the login).
    private func raiseFloor(_ handle: CK_OBJECT_HANDLE, to generation: UInt64) throws(CKRError) {
        guard let masterKey else { return }
        readManifest()
        guard var updated = manifest else { throw CKRError(CKR.deviceError) }
        updated.floors[handle] = max(updated.floors[handle] ?? 0, generation)
        try directory.write("manifest", try updated.sealed(masterKey: masterKey, serial: record.serial))
        manifest = updated
    }

    /// Drops the session objects of a closed session.
    func dropSessionObjects(of session: CK_SESSION_HANDLE) {
        for handle in sessionObjects[session] ?? [] { forget(handle, session: session) }
    }

    // MARK: - Creating a token

    /// C_InitToken: a new record with a new master key wrapped under the SO PIN; every object
    /// and the user PIN are gone. An existing token needs its SO PIN.
    static func initialize(directory: TokenDirectory, existing: Token?, soPIN: [UInt8], label: [UInt8], serial: String,
                           iterations: UInt32) throws(CKRError) -> Token {
        if let existing {
            // Proves the SO PIN (and counts the try) before anything is erased.
            var proven = try existing.unlock(CKU.so, pin: soPIN)
            wipe(&proven)
        }
        var master = try randomBytes(32)
        defer { wipe(&master) }
        let salt = try randomBytes(16)
        var derived = try Sealing.deriveKey(soPIN, salt: salt, iterations: iterations)
        defer { wipe(&derived) }
        let record = TokenRecord(label: label, serial: serial, iterations: iterations, soSalt: salt,
                                 soWrapped: try Sealing.seal(master, key: derived, aad: wrapAAD(so: true)))
        try directory.locked(exclusive: true) { () throws(CKRError) in
            try directory.removeAllObjects()
            try directory.remove("manifest")
            try directory.write("token", record.encoded())
        }
        return try Token(directory: directory)
    }
}

