public import PKCS11
import Synchronization
import X509

/// What a key password provider is asked for: the password that approves one use of a
/// High-level key (its CKU_CONTEXT_SPECIFIC login). For a Medium-level key
/// (`key.securityLevel == .medium`) the provider asks the person yes/no and answers with the
/// token PIN, which the context login then uses; a no is a `StoreError` (code `.failed`).
public struct KeyPasswordRequest: Sendable {
    /// The key this signer uses, as the token described it.
    public let key: KeyDescription
    /// The label of the token holding the key.
    public let tokenLabel: String
    /// 1 on the first ask for this use, 2 after one wrong entry, and so on.
    public let attempt: Int
}

/// Asks for the password that approves one use of a High-level key. It is called once per
/// signature (and again after a wrong entry); the answer is wiped when the login is done.
public typealias KeyPasswordProvider = (_ request: KeyPasswordRequest) throws(StoreError) -> PIN

/// Signs with one private key on a token, the same way on every module.
///
/// For a key at security level High (CKA_ALWAYS_AUTHENTICATE) every signature runs
/// C_SignInit → C_Login(CKU_CONTEXT_SPECIFIC) → C_Sign with a password asked for that
/// signature alone, whatever the module would let pass: over PIV the first signature after a
/// user login goes through without a context login, and CertBridge does not rely on either.
/// The password is never kept past the login it is for.
///
/// When a use fails part-way (a wrong password, a refused signature), the session may hold a
/// half-done operation, and some modules (OpenSC) drop the user login: the next use opens a
/// fresh session first — logging in again only if the login was really lost — and closes the
/// old one after, so a module that keeps the login keeps it.
///
/// Uses are serialized: a signer may be shared between threads (it backs `TokenPrivateKey`).
public final class Signer: @unchecked Sendable {
    // @unchecked: every use of the mutable state below happens inside `lock`.

    /// The key, with the flags read back from the token.
    public let key: KeyDescription
    /// The token the key lives on.
    public let token: Token

    private let store: Store
    private let pin: Store.PINProvider
    private let keyPassword: KeyPasswordProvider
    private let attempts: Int
    private let lock = Mutex(())
    private var session: Session
    private var object: Object
    private var sessionSuspect = false
    private var offered: Set<MechanismType>?
    private var plans: [SignatureAlgorithm: SigningPlan] = [:]

    /// Finds the private key the URI names and logs in to its token as the user.
    /// - Parameters:
    ///   - pin: the token PIN, asked when a user login is needed (once, unless the module
    ///     drops the login).
    ///   - keyPassword: the password that approves each use of a High-level key.
    ///   - attempts: how many times to ask for a key password before giving up on a use; more
    ///     than one only makes sense when a person is typing it.
    public init(
        store: Store, key uri: PKCS11URI, pin: @escaping Store.PINProvider,
        keyPassword: @escaping KeyPasswordProvider, attempts: Int = 1
    ) throws(StoreError) {
        self.store = store
        self.pin = pin
        self.keyPassword = keyPassword
        self.attempts = max(1, attempts)
        token = try store.token(matching: uri)
        session = try store.session(on: token, pin: pin)
        if let type = uri.type, type != .privateKey {
            throw StoreError(.usage, "signing needs a private key; the URI names type=\(type.rawValue)")
        }
        var described: KeyDescription
        (object, described) = try Store.namedPrivateKey(uri, in: session, on: token)
        if SecurityLevelRecord.isMedium(
            described.flags, keyLabel: described.label, idHex: hex(described.id), session: session, token: token)
        {
            described.flags.approval = SecurityLevel.medium.approvalValue
        }
        key = described
    }

    /// Signs `message` (the whole message: hashing is part of the algorithm) and returns the
    /// signature, an ECDSA one as DER or raw r‖s per `format`.
    public func sign(_ message: [UInt8], algorithm: SignatureAlgorithm? = nil, format: SignatureFormat = .der)
        throws(StoreError) -> [UInt8]
    {
        let algorithm = algorithm ?? key.kind.defaultAlgorithm
        let raw = try lock.withLock { _ throws(StoreError) in try signLocked(message, algorithm: algorithm) }
        if case .ecdsa = algorithm, format == .der { return try ECDSAEncoding.der(fromRaw: raw) }
        return raw
    }

    /// The public half of the key: from its certificate (same CKA_ID), else its public key object.
    public func publicKey() throws(StoreError) -> (key: TokenPublicKey, source: String) {
        try store.publicKey(matching: key.uri, pin: pin)
    }

    /// What happened when a High-level key was asked to sign without its context login.
    public struct UnapprovedUse: Sendable, Hashable {
        /// The token refused (the right answer); `returnValue` names how.
        public let refused: Bool
        /// The CKR name of the refusal, e.g. `CKR_USER_NOT_LOGGED_IN`.
        public let returnValue: String?
        /// The module dropped the user login along with the refusal (OpenSC does).
        public let userLoginDropped: Bool
    }

    /// Runs C_SignInit → C_Sign with no context login, to prove the token refuses a signature
    /// the user did not approve. A token that signs anyway is lax: CertBridge's own signing
    /// never depends on it, since `sign` always logs in for the use.
    public func attemptUnapprovedUse() throws(StoreError) -> UnapprovedUse {
        try lock.withLock { _ throws(StoreError) in
            if sessionSuspect { try renewSession() }
            let plan = try plan(for: key.kind.defaultAlgorithm)
            let challenge = plan.input(for: Array("certbridge unapproved-use probe".utf8))
            sessionSuspect = true  // whatever happens, the operation state is not ours to trust
            do throws(PKCS11Error) {
                try session.signInit(plan.mechanism, key: object)
            } catch {
                throw StoreError(error, doing: "starting a signature with \"\(key.label)\"", token: token)
            }
            var refusal: ReturnValue?
            do throws(PKCS11Error) {
                _ = try session.sign(challenge, expectedLength: expectedLength)
            } catch {
                guard let rv = error.returnValue else {
                    throw StoreError(error, doing: "signing with \"\(key.label)\"", token: token)
                }
                refusal = rv
            }
            let loggedIn = (try? session.state().isUserLoggedIn) ?? false
            return UnapprovedUse(refused: refusal != nil, returnValue: refusal?.name, userLoginDropped: !loggedIn)
        }
    }

    // MARK: One use

    private var expectedLength: Int {
        switch key.kind {
        case .rsa(let bits): max(64, (bits + 7) / 8)
        case .ec(_, let bits): 2 * ((bits + 7) / 8)
        case .edwards: 114
        }
    }

    private func plan(for algorithm: SignatureAlgorithm) throws(StoreError) -> SigningPlan {
        guard algorithm.fits(key.kind) else {
            throw StoreError(.usage, "\(algorithm.name) does not fit key \"\(key.label)\" (\(key.kind.description))")
        }
        if let plan = plans[algorithm] { return plan }
        if offered == nil {
            do throws(PKCS11Error) { offered = Set(try token.slot.mechanisms()) } catch {
                throw StoreError(error, doing: "reading the token's mechanisms", token: token)
            }
        }
        let plan = try algorithm.plan(offered: offered ?? [], token: token)
        plans[algorithm] = plan
        return plan
    }

    private func signLocked(_ message: [UInt8], algorithm: SignatureAlgorithm) throws(StoreError) -> [UInt8] {
        let plan = try plan(for: algorithm)
        let input = plan.input(for: message)
        if sessionSuspect { try renewSession() }
        do throws(UseFailure) {
            return try signOnce(plan, input)
        } catch .token(let error) where Self.lostLogin(error) {
            // The module dropped the login or the session (a card reset, OpenSC after a
            // refusal): recover once, with a new user login only if it is really gone.
            try renewSession()
            do throws(UseFailure) { return try signOnce(plan, input) } catch {
                throw error.storeError(signing: key, on: token)
            }
        } catch {
            throw error.storeError(signing: key, on: token)
        }
    }

    /// C_SignInit → [C_Login(CKU_CONTEXT_SPECIFIC)] → C_Sign.
    private func signOnce(_ plan: SigningPlan, _ input: [UInt8]) throws(UseFailure) -> [UInt8] {
        do throws(PKCS11Error) {
            try session.signInit(plan.mechanism, key: object)
        } catch {
            throw .token(error)
        }
        // From here an operation is active; until C_Sign finishes it the session is suspect.
        sessionSuspect = true
        if key.securityLevel.alwaysAuthenticates {
            try approveUse(plan)
        }
        do throws(PKCS11Error) {
            let signature = try session.sign(input, expectedLength: expectedLength)
            sessionSuspect = false
            return signature
        } catch {
            throw .token(error)
        }
    }

    /// The context login for the one operation just started, asking for its password.
    private func approveUse(_ plan: SigningPlan) throws(UseFailure) {
        for attempt in 1...attempts {
            let secret: PIN?
            do throws(StoreError) {
                secret = try keyPassword(KeyPasswordRequest(key: key, tokenLabel: token.info.label, attempt: attempt))
            } catch {
                throw .store(error)
            }
            do throws(PKCS11Error) {
                try contextLogin(secret, plan: plan)
                return
            } catch  where Self.wrongSecret(error) && attempt < attempts {
                continue  // the operation stays initialized after a wrong password: ask again
            } catch  where Self.wrongSecret(error) || error.returnValue == .pinLocked {
                throw .store(StoreError(error, doing: "approving the use of key \"\(key.label)\"", token: token))
            } catch {
                throw .token(error)
            }
        }
    }

    private func contextLogin(_ secret: borrowing PIN?, plan: SigningPlan) throws(PKCS11Error) {
        do throws(PKCS11Error) {
            try session.login(.contextSpecific, pin: secret)
        } catch  where error.returnValue == .operationNotInitialized {
            // A module that ended the operation with a failed login: start it again.
            try session.signInit(plan.mechanism, key: object)
            try session.login(.contextSpecific, pin: secret)
        }
    }

    /// Opens a new session (logging in as the user only if the login is gone), finds the key
    /// there, then lets the old session close: the login state survives because a session
    /// stays open throughout.
    private func renewSession() throws(StoreError) {
        let fresh = try store.session(on: token, pin: pin)
        do throws(PKCS11Error) {
            let id = key.id
            var template: [Attribute] = [Attribute(.privateKey), Attribute(.label, string: key.label)]
            if !id.isEmpty { template.append(Attribute(.id, bytes: id)) }
            object = try fresh.findObject(template, what: "private key \"\(key.label)\"")
        } catch {
            throw StoreError(error, doing: "finding the key again", token: token)
        }
        session = fresh
        sessionSuspect = false
    }

    /// Failures that mean the session or its login went away under us. SoftHSM2 answers
    /// C_SignInit on a private key after a logout with CKR_OBJECT_HANDLE_INVALID (the object is
    /// hidden), others with CKR_USER_NOT_LOGGED_IN or CKR_KEY_HANDLE_INVALID.
    private static func lostLogin(_ error: PKCS11Error) -> Bool {
        [
            .userNotLoggedIn, .sessionHandleInvalid, .sessionClosed, .operationActive,
            .objectHandleInvalid, .keyHandleInvalid,
        ].contains(error.returnValue)
    }

    private static func wrongSecret(_ error: PKCS11Error) -> Bool {
        [.pinIncorrect, .pinInvalid, .pinLenRange].contains(error.returnValue)
    }
}

/// Why one use of a key failed: the token said no, or the store did (a wrong key password
/// with its tries left, no terminal to ask on).
enum UseFailure: Error {
    case token(PKCS11Error)
    case store(StoreError)

    func storeError(signing key: KeyDescription, on token: Token) -> StoreError {
        switch self {
        case .token(let error): StoreError(error, doing: "signing with \"\(key.label)\"", token: token)
        case .store(let error): error
        }
    }
}
