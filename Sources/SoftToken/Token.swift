internal import CPKCS11
import CSoftTokenCrypto

/// One software token: its directory, its record, the objects it holds, and this process's
/// login state (shared by all the process's sessions on it, as PKCS#11 has it).
final class Token {
    let directory: TokenDirectory
    private(set) var record: TokenRecord
    private(set) var counters = PINCounters()
    /// Wrong key passwords in a row, per key (KeyTries.swift), as last read under the lock.
    var keyTries = KeyTries()
    /// Token and session objects by handle.
    private(set) var objects: [CK_OBJECT_HANDLE: TokenObject] = [:]
    private var stamp: [Int] = []

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
        try directory.locked(exclusive: false) { () throws(CKRError) in try reload() }
        // Opening the token clears what killed writers left; a failure leaves only garbage.
        try? directory.removeLeftovers()
    }

    // MARK: - Reading what other processes wrote

    /// Re-reads the directory when another process changed it since we last looked.
    func refresh() throws(CKRError) {
        guard directory.stamp() != stamp else { return }
        try directory.locked(exclusive: false) { () throws(CKRError) in try reload() }
    }

    private func reload() throws(CKRError) {
        stamp = directory.stamp()
        if let bytes = try directory.read("token") { record = try TokenRecord.decode(bytes) }
        counters = try PINCounters.decode(try directory.read("pins"))
        keyTries = KeyTries.decode(try directory.read(KeyTries.fileName))
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
            if let old = objects[handle], old.isToken, old.file == bytes {
                old.fileIdentity = identity
                fresh[handle] = old
                continue
            }
            guard let object = try? TokenObject.read(handle: handle, bytes: bytes, masterKey: masterKey) else { continue }
            object.fileIdentity = identity
            fresh[handle] = object
        }
        objects = fresh
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
        if user == CKU.user {
            let salt = try randomBytes(32)
            pinCheck = (salt, Self.pinDigest(salt: salt, pin: pin))
        }
        for object in objects.values where !object.isReadable { try? object.unseal(masterKey: key) }
    }

    /// The counted PIN check: the master key, opened with the PIN; the caller wipes it.
    func unlock(_ user: CK_USER_TYPE, pin: [UInt8]) throws(CKRError) -> [UInt8] {
        try directory.locked(exclusive: true) { () throws(CKRError) -> [UInt8] in
            try reload()
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
        for object in objects.values where object.isPrivate && object.isToken {
            object.lock(sealed: object.file.count > 5 ? Array(object.file[5...]) : [])
        }
        // Private session objects die with the login.
        objects = objects.filter { $0.value.isToken || !$0.value.isPrivate }
    }

    /// C_InitPIN (SO logged in) and C_SetPIN: the master key rewrapped under a new PIN.
    func setPIN(_ user: CK_USER_TYPE, to pin: [UInt8], masterKey given: [UInt8]? = nil) throws(CKRError) {
        guard let masterKey = given ?? masterKey else { throw CKRError(CKR.userNotLoggedIn) }
        let salt = try randomBytes(16)
        var derived = try Sealing.deriveKey(pin, salt: salt, iterations: record.iterations)
        defer { wipe(&derived) }
        let wrapped = try Sealing.seal(masterKey, key: derived, aad: Self.wrapAAD(so: user == CKU.so))
        try directory.locked(exclusive: true) { () throws(CKRError) in
            try reload()
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

    /// Runs `body` under the token's exclusive lock with the state freshly read; what `body`
    /// writes counts as seen.
    func exclusively<R>(_ body: () throws(CKRError) -> R) throws(CKRError) -> R {
        try directory.locked(exclusive: true) { () throws(CKRError) -> R in
            try reload()
            defer { stamp = directory.stamp() }
            return try body()
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
        guard let object = objects[handle], object.isReadable, !object.isPrivate || canSeePrivate else { return nil }
        return object
    }

    /// Every object this login may see.
    var visibleObjects: [TokenObject] {
        objects.values.filter { $0.isReadable && (!$0.isPrivate || canSeePrivate) }
    }

    /// A handle no object uses, token or session.
    func newHandle() throws(CKRError) -> CK_OBJECT_HANDLE {
        while true {
            var raw = try randomBytes(6)
            defer { wipe(&raw) }
            let handle = raw.reduce(CK_OBJECT_HANDLE(0)) { $0 << 8 | CK_OBJECT_HANDLE($1) }
            guard handle != 0, objects[handle] == nil else { continue }
            if try directory.read("objects/" + String(handle, radix: 16)) == nil { return handle }
        }
    }

    /// Adds (or replaces) an object: token objects are written first, so the cache never holds
    /// what the disk does not.
    func store(_ object: TokenObject) throws(CKRError) {
        if object.isToken {
            let bytes = try object.fileBytes(masterKey: masterKey)
            try directory.locked(exclusive: true) { () throws(CKRError) in
                let before = directory.stamp()
                try directory.write("objects/" + String(object.handle, radix: 16), bytes)
                object.fileIdentity = directory.identity(of: "objects/" + String(object.handle, radix: 16))
                // Only our own write changed the directory: no reload needed.
                if before == stamp { stamp = directory.stamp() }
            }
            object.file = bytes
        }
        objects[object.handle] = object
    }

    /// Removes an object from the disk and the cache.
    func destroy(_ object: TokenObject) throws(CKRError) {
        if object.isToken {
            try directory.locked(exclusive: true) { () throws(CKRError) in
                let before = directory.stamp()
                try directory.remove("objects/" + String(object.handle, radix: 16))
                if before == stamp { stamp = directory.stamp() }
            }
        }
        objects[object.handle] = nil
    }

    /// Drops the session objects of a closed session.
    func dropSessionObjects(of session: CK_SESSION_HANDLE) {
        objects = objects.filter { $0.value.session != session }
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
            try directory.write("token", record.encoded())
        }
        return try Token(directory: directory)
    }
}

