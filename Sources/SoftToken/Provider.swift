public import CPKCS11

#if canImport(Glibc)
    import Glibc
#endif

/// The software token's PKCS#11 provider: every C_* entry point of the module lands in one of
/// these methods (the module is CKF_OS_LOCKING_OK: callers may use it from any thread). State
/// lives from C_Initialize to C_Finalize and is wiped there.
///
/// Two kinds of lock. The shared lock guards the provider's state: the slot and session
/// tables, the tokens (objects, files, login state) and the objects' attributes. Each session's
/// own lock guards that session's operations (sign, verify, encrypt, decrypt, digest, their
/// gathered input). An operation call holds its session's lock throughout and takes the shared
/// lock only for the moments it reads or changes shared state; the cryptography runs outside
/// it, so operations on different sessions run at the same time. A session lock may be held
/// while the shared lock is taken, never the other way round.
public enum SoftTokenProvider {
    /// The shared lock (recursive: helpers take it whether or not their caller holds it).
    static let lock = Lock(recursive: true)
    nonisolated(unsafe) private static var state: Provider?

    /// Runs a call with the provider under the shared lock, mapping thrown CK_RVs to the
    /// return value: for everything that is not an operation on one session.
    static func call(_ body: (Provider) throws(CKRError) -> Void) -> CK_RV {
        lock.withLock {
            guard let provider = state else { return CKR.cryptokiNotInitialized }
            do throws(CKRError) {
                try body(provider)
                return CKR.ok
            } catch {
                return error.rv
            }
        }
    }

    /// Runs an operation call on one session: under that session's lock, with the shared lock
    /// taken only to find the session and where `body` asks for it (Provider.shared): once per
    /// call on the way in, so two sessions' calls seldom wait for each other. A session closed
    /// (or a provider finalized) between the look-up and the session's lock is refused by its
    /// `closed` flag; operations that a logout or a close ended while this session was busy are
    /// dropped first, under the shared lock as they were ended.
    static func call(session handle: CK_SESSION_HANDLE, _ body: (Provider, Session) throws(CKRError) -> Void) -> CK_RV {
        var found: (Provider, Session)?
        let refusal: CK_RV = lock.withLock {
            guard let provider = state else { return CKR.cryptokiNotInitialized }
            guard let session = provider.sessions[handle] else { return CKR.sessionHandleInvalid }
            found = (provider, session)
            return CKR.ok
        }
        guard let (provider, session) = found else { return refusal }
        return session.lock.withLock {
            do throws(CKRError) {
                guard !session.closed.load(ordering: .acquiring) else { throw CKRError(CKR.sessionHandleInvalid) }
                if session.operationsEnded.load(ordering: .acquiring) {
                    lock.withLock {
                        if session.operationsEnded.exchange(false, ordering: .acquiringAndReleasing) {
                            session.endOperations()
                        }
                    }
                }
                try body(provider, session)
                return CKR.ok
            } catch {
                return error.rv
            }
        }
    }

    /// C_Initialize: a fresh provider over the token directory.
    public static func initialize(_ args: UnsafeMutableRawPointer?) -> CK_RV {
        if let args {
            let initArgs = args.loadUnaligned(as: CK_C_INITIALIZE_ARGS.self)
            guard initArgs.pReserved == nil else { return CKR.argumentsBad }
            let mutexes = [
                initArgs.CreateMutex != nil, initArgs.DestroyMutex != nil, initArgs.LockMutex != nil,
                initArgs.UnlockMutex != nil,
            ]
            guard mutexes.allSatisfy({ $0 }) || mutexes.allSatisfy({ !$0 }) else { return CKR.argumentsBad }
        }
        return lock.withLock {
            guard state == nil else { return CKR.cryptokiAlreadyInitialized }
            state = Provider(root: Provider.storeDirectory())
            return CKR.ok
        }
    }

    /// C_Finalize: every session closed, every secret wiped.
    public static func finalize(_ reserved: UnsafeMutableRawPointer?) -> CK_RV {
        guard reserved == nil else { return CKR.argumentsBad }
        return lock.withLock {
            guard let provider = state else { return CKR.cryptokiNotInitialized }
            provider.closeEverything()
            state = nil
            return CKR.ok
        }
    }
}

/// The provider's state: the store directory, its tokens and the open sessions.
final class Provider {
    let root: String
    private var tokens: [String: Token] = [:]
    private(set) var sessions: [CK_SESSION_HANDLE: Session] = [:]
    private var nextSession: CK_SESSION_HANDLE = 1
    private var lastSlotList: [CK_SLOT_ID]?
    /// Tokens refused for their directory's owner or mode (TokenDirectory.refusal), by slot:
    /// the reason, and the label from the token file, for C_GetSlotInfo and C_GetTokenInfo.
    private(set) var refusals: [CK_SLOT_ID: (reason: String, label: [UInt8])] = [:]

    /// The empty slot, where C_InitToken makes a new token. A token made there keeps this slot
    /// id until C_Finalize (the program holds it), and the empty slot moves to a fresh id above
    /// every id derived from a serial.
    private(set) var emptySlot: CK_SLOT_ID = 0
    /// Tokens made here in the empty slot, by serial: the slot id they were made in.
    private var madeInSlot: [String: CK_SLOT_ID] = [:]
    /// PBKDF2 iterations for new tokens; CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS lowers it for tests
    /// (never below 1,000).
    static var defaultIterations: UInt32 {
        if let text = getenv("CERTBRIDGE_SOFTTOKEN_KDF_ITERATIONS").map({ String(cString: $0) }),
            let value = UInt32(text)
        {
            return max(value, 1000)
        }
        return 600_000
    }

    init(root: String) { self.root = root }

    /// $CERTBRIDGE_SOFTTOKEN_DIR, else ~/.local/share/certbridge/softtoken.
    static func storeDirectory() -> String {
        if let dir = getenv("CERTBRIDGE_SOFTTOKEN_DIR"), dir.pointee != 0 { return String(cString: dir) }
        var home = getenv("HOME").map { String(cString: $0) } ?? ""
        if home.isEmpty, let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir { home = String(cString: dir) }
        return home + "/.local/share/certbridge/softtoken"
    }

    /// Runs `body` under the shared lock: what an operation call reads or changes of the
    /// provider, its tokens and their objects.
    func shared<T>(_ body: () throws(CKRError) -> T) throws(CKRError) -> T {
        try SoftTokenProvider.lock.withLock(body)
    }

    /// Ends a session's operations now if no call is running on it, else marks them ended for
    /// that call to drop when it next starts (the shared lock is held: waiting for a session
    /// lock here could deadlock, so it is only tried).
    func endOperations(of session: Session) {
        if session.lock.withLockIfAvailable({ session.endOperations() }) == nil {
            session.operationsEnded.store(true, ordering: .releasing)
        }
    }

    func closeEverything() {
        for session in sessions.values {
            session.closed.store(true, ordering: .releasing)
            endOperations(of: session)
        }
        sessions.removeAll()
        for token in tokens.values { token.logout() }
        tokens.removeAll()
    }

    // MARK: - Slots

    /// The slot id of a token: stable, from its serial, never 0.
    static func slotID(serial: String) -> CK_SLOT_ID { (CK_SLOT_ID(serial.prefix(7), radix: 16) ?? 0) + 1 }

    /// The slot id of a token in this provider: the one it was made in, else from its serial.
    func slotID(serial: String) -> CK_SLOT_ID { madeInSlot[serial] ?? Self.slotID(serial: serial) }

    /// Tokens in the store directory, read again so tokens made by other processes appear.
    func scanTokens() -> [(CK_SLOT_ID, Token?)] {
        var result: [(CK_SLOT_ID, Token?)] = []
        refusals = [:]
        for name in TokenDirectory.tokens(in: root) {
            if let reason = TokenDirectory.refusal(root: root, token: name) {
                let label =
                    (try? TokenDirectory(path: root + "/" + name).read("token")).flatMap { $0 }
                    .flatMap { try? TokenRecord.decode($0) }?.label ?? Array("refused token".utf8)
                tokens[name] = nil
                refusals[slotID(serial: name)] = (reason, label)
                result.append((slotID(serial: name), nil))
                continue
            }
            if tokens[name] == nil, let token = Self.open(TokenDirectory(path: root + "/" + name)) {
                tokens[name] = token
            }
            if let token = tokens[name] { result.append((slotID(serial: name), token)) }
        }
        return result
    }

    /// Opens a token; a read that fails while another process is changing it is tried again
    /// a few times, so that a token is not left out of a slot list for a passing moment.
    private static func open(_ directory: TokenDirectory) -> Token? {
        for attempt in 0..<3 {
            do throws(CKRError) {
                return try Token(directory: directory)
            } catch  where error.rv == CKR.tokenNotRecognized {
                return nil
            } catch {
                if attempt < 2 { usleep(20_000) }
            }
        }
        return nil
    }

    /// The slots, read afresh for the length query (no buffer) and given again unchanged for the
    /// call that fills the buffer, so the two-call pattern holds while other processes make
    /// tokens (a list that grew between the calls would be CKR_BUFFER_TOO_SMALL, which many
    /// applications do not retry).
    func slotList(fresh: Bool) -> [CK_SLOT_ID] {
        if fresh || lastSlotList == nil { lastSlotList = scanTokens().map(\.0) + [emptySlot] }
        return lastSlotList!
    }

    /// The token in a slot; nil for the empty slot; CKR_SLOT_ID_INVALID for an unknown one.
    func token(inSlot slot: CK_SLOT_ID) throws(CKRError) -> Token? {
        if slot == emptySlot { return nil }
        if let token = tokens.first(where: { slotID(serial: $0.key) == slot })?.value { return token }
        let scanned = scanTokens()
        if let token = scanned.first(where: { $0.0 == slot })?.1 { return token }
        if refusals[slot] != nil { throw CKRError(CKR.tokenNotRecognized) }
        throw CKRError(CKR.slotIDInvalid)
    }

    func session(_ handle: CK_SESSION_HANDLE) throws(CKRError) -> Session {
        guard let session = sessions[handle] else { throw CKRError(CKR.sessionHandleInvalid) }
        return session
    }

    func sessions(of token: Token) -> [Session] { sessions.values.filter { $0.token === token } }

    // MARK: - Tokens

    func initToken(slot: CK_SLOT_ID, soPIN: [UInt8], label: [UInt8]) throws(CKRError) {
        guard (4...255).contains(soPIN.count) else { throw CKRError(CKR.pinLenRange) }
        let existing = try token(inSlot: slot)
        if let existing, !sessions(of: existing).isEmpty { throw CKRError(CKR.sessionExists) }
        let serial: String
        let directory: TokenDirectory
        if let existing {
            serial = existing.serial
            directory = existing.directory
        } else {
            try TokenDirectory.makeDirectories(root)
            serial = try randomBytes(8).map {
                String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16)
            }.joined()
            directory = try TokenDirectory.create(path: root + "/" + serial)
        }
        let token = try Token.initialize(
            directory: directory, existing: existing, soPIN: soPIN, label: label, serial: serial,
            iterations: existing?.record.iterations ?? Self.defaultIterations)
        tokens[serial] = token
        if existing == nil {
            madeInSlot[serial] = slot
            emptySlot = 0x1000_0001 + CK_SLOT_ID(madeInSlot.count)
        }
    }

    // MARK: - Sessions

    func openSession(slot: CK_SLOT_ID, flags: CK_FLAGS) throws(CKRError) -> CK_SESSION_HANDLE {
        guard flags & CKF.serialSession != 0 else { throw CKRError(CKR.sessionParallelNotSupported) }
        guard let token = try token(inSlot: slot) else { throw CKRError(CKR.tokenNotRecognized) }
        let readWrite = flags & CKF.rwSession != 0
        if !readWrite && token.loggedIn == CKU.so { throw CKRError(CKR.sessionReadWriteSOExists) }
        let handle = nextSession
        nextSession += 1
        sessions[handle] = Session(handle: handle, slot: slot, token: token, readWrite: readWrite)
        return handle
    }

    func closeSession(_ handle: CK_SESSION_HANDLE) throws(CKRError) {
        let session = try session(handle)
        session.closed.store(true, ordering: .releasing)
        endOperations(of: session)
        session.token.dropSessionObjects(of: handle)
        sessions[handle] = nil
        // The login ends with the token's last session; the process remembers it (RememberedLogin).
        if sessions(of: session.token).isEmpty { session.token.logout(keepingRememberedLogin: true) }
    }

    func closeAllSessions(slot: CK_SLOT_ID) throws(CKRError) {
        guard let token = try token(inSlot: slot) else { return }
        for session in sessions(of: token) { try closeSession(session.handle) }
    }

    // MARK: - Login

    /// C_Login, a call on the session (its lock held): a context login approves that session's
    /// operation; a user or SO login changes the token's shared login state.
    func login(_ session: Session, user: CK_USER_TYPE, pin: [UInt8]?) throws(CKRError) {
        let token = session.token
        switch user {
        case CKU.contextSpecific:
            // A NULL PIN (the protected authentication path): the module asks the person.
            guard let pin else { return try awaitLoginApproval(session) }
            try contextLogin(session, pin: pin)
        case CKU.user where pin == nil:
            try awaitUserLogin(session)
        case CKU.so, CKU.user:
            try shared { () throws(CKRError) in
                if user == CKU.so, sessions(of: token).contains(where: { !$0.readWrite }) {
                    throw CKRError(CKR.sessionReadOnlyExists)
                }
                do throws(CKRError) {
                    try token.login(user, pin: pin ?? [])
                } catch  where error.rv == CKR.pinIncorrect || error.rv == CKR.pinLocked {
                    token.audit(
                        key: "", operation: user == CKU.so ? "SO login" : "user login", outcome: "failed: wrong PIN")
                    throw error
                }
            }
        default:
            throw CKRError(CKR.userTypeInvalid)
        }
    }

    /// The always-authenticate gate: every operation with a private or secret key passes here
    /// before it uses the key (sign, decrypt, unwrap, derive, MACs), with only the session's
    /// lock held, so a prompt for the approval could run here without stopping other sessions.
    /// An operation begun on a CKA_ALWAYS_AUTHENTICATE key (`needsContextLogin`) must have
    /// been approved by contextLogin first.
    /// Unless the token is strict, an operation that reaches its use unapproved asks the person
    /// here (Approval.swift): one answer for this one operation.
    func requireContextLogin(_ session: Session, _ operation: KeyOperation) throws(CKRError) {
        guard !operation.needsContextLogin || operation.approved else {
            try askApproval(session, operation)
            return
        }
    }

    /// C_Login(CKU_CONTEXT_SPECIFIC): approves the operation begun on an always-authenticate key,
    /// with the key's own password where it has one, else the user PIN.
    func contextLogin(_ session: Session, pin: [UInt8]) throws(CKRError) {
        try shared { () throws(CKRError) in
            guard session.token.loggedIn == CKU.user else { throw CKRError(CKR.userNotLoggedIn) }
            if let operation = session.operationAwaitingLogin {
                try approve(session, operation, secret: pin)
                return
            }
            if let pending = session.pendingWrap, let key = session.token.object(pending) {
                session.approvedWrap = (pending, try openWithPassword(key, password: pin))
                session.pendingWrap = nil
                return
            }
            throw CKRError(CKR.operationNotInitialized)
        }
    }

    func logout(_ handle: CK_SESSION_HANDLE) throws(CKRError) {
        let session = try session(handle)
        guard session.token.loggedIn != nil else { throw CKRError(CKR.userNotLoggedIn) }
        for other in sessions(of: session.token) { endOperations(of: other) }
        session.token.logout()
    }

    func initPIN(_ handle: CK_SESSION_HANDLE, pin: [UInt8]) throws(CKRError) {
        let session = try session(handle)
        guard session.token.loggedIn == CKU.so else { throw CKRError(CKR.userNotLoggedIn) }
        guard (4...255).contains(pin.count) else { throw CKRError(CKR.pinLenRange) }
        try session.token.setPIN(CKU.user, to: pin)
    }

    /// C_SetPIN: the logged-in user's (or SO's) PIN, else the user's. The old PIN is proven by
    /// a counted check of its own; the login state does not change. The user's new PIN comes
    /// with a new master key (Token.changeUserPIN).
    func setPIN(_ handle: CK_SESSION_HANDLE, old: [UInt8], new: [UInt8]) throws(CKRError) {
        let session = try session(handle)
        guard session.readWrite else { throw CKRError(CKR.sessionReadOnly) }
        guard (4...255).contains(new.count) else { throw CKRError(CKR.pinLenRange) }
        let token = session.token
        let user = token.loggedIn ?? CKU.user
        // The SO's PIN wraps the SO key; the user's the master key, which changes with it.
        var secret = try token.unlockSecret(user, pin: old)
        defer { wipe(&secret) }
        if user == CKU.so {
            try token.setPIN(user, to: new, masterKey: secret)
        } else {
            try token.changeUserPIN(to: new, oldMaster: secret)
        }
    }
}
