internal import CPKCS11

#if canImport(Glibc)
    import Glibc
#endif

/// The approval one use of a key needs: the Windows levels Low, Medium and High.
enum Approval: CK_ULONG {
    /// Usable after the token login (standard, Windows "Low").
    case none = 0
    /// A yes/no at every use (Windows "Medium"): pinentry CONFIRM.
    case confirm = 1
    /// A password at every use (Windows "High"): the key's own, else the token PIN; pinentry GETPIN.
    case password = 2
}

extension TokenObject {
    /// What a use of this key needs. CKA_ALWAYS_AUTHENTICATE decides whether anything is asked;
    /// the recorded approval only softens a password to a yes/no when the key was made Medium.
    var approval: Approval {
        guard flag(CKA.alwaysAuthenticate) else { return .none }
        return attributes.ulong(CKA.approval) == Approval.confirm.rawValue ? .confirm : .password
    }
}

/// A question for the person, prepared under the lock and asked outside it, for the one
/// operation it approves.
final class ApprovalRequest {
    let session: CK_SESSION_HANDLE
    /// The operation approved; nil for C_Login(CKU_USER, NULL), which asks for the token PIN.
    let operation: KeyOperation?
    let approval: Approval
    /// What the operation does, in the prompt's words ("sign", "decrypt").
    let what: String
    let keyLabel: String
    /// The key as the audit trail names it (TokenObject.auditName).
    let keyRef: String
    let tokenLabel: String
    let directory: TokenDirectory
    /// Asked for by C_Login with a NULL PIN rather than by the operation itself.
    let fromLogin: Bool

    init(session: Session, operation: KeyOperation?, what: String, fromLogin: Bool) {
        self.session = session.handle
        self.operation = operation
        self.approval = operation?.key.approval ?? .password
        self.what = what
        self.keyLabel = operation?.key.labelText ?? ""
        self.keyRef = operation?.key.auditName ?? ""
        self.tokenLabel = Token.text(session.token.label)
        self.directory = session.token.directory
        self.fromLogin = fromLogin
    }

    /// Runs the pinentry (no lock held); the trail records that the question was put.
    func ask() -> Pinentry.Answer {
        AuditLog.append(directory, token: tokenLabel, key: keyRef, operation: what, outcome: "approval asked")
        guard let pinentry = Pinentry.forCaller() else { return .unavailable }
        let program = AuditLog.program()
        let name = program.split(separator: "/").last.map(String.init) ?? program
        var description: String
        if let operation {
            description =
                "\(name) (\(program), pid \(getpid())) wants to \(what) with the key \"\(keyLabel)\" "
                + "on the token \"\(tokenLabel)\".\n\n"
            description +=
                approval == .confirm
                ? "Allow this one use?"
                : (operation.key.hasKeyPassword ? "Enter the key's password" : "Enter the token PIN")
                    + " to allow this one use."
        } else {
            description =
                "\(name) (\(program), pid \(getpid())) wants to log in to the token \"\(tokenLabel)\".\n\nEnter the token PIN."
        }
        let question = Pinentry.Question(
            title: operation == nil ? "CertBridge: log in to a token" : "CertBridge: approve the use of a key",
            description: description,
            prompt: approval == .confirm ? "Allow" : (operation == nil ? "PIN:" : "Password:"),
            wantsPassword: approval == .password)
        return pinentry.ask(question)
    }
}

extension Provider {
    /// Whether the module may ask the person itself: not when `$CERTBRIDGE_SOFTTOKEN_STRICT` is
    /// set (other than "0"), nor for a token whose directory holds a file named `strict`. A
    /// strict token answers CKR_USER_NOT_LOGGED_IN, as plain PKCS#11 has it.
    static func isStrict(_ token: Token) -> Bool {
        if let value = Pinentry.environment("CERTBRIDGE_SOFTTOKEN_STRICT"), value != "0" { return true }
        return access(token.directory.path + "/strict", F_OK) == 0
    }

    /// An operation on an always-authenticate key reached its use without a context login
    /// (called from requireContextLogin, with only the session's lock held): unless the token is
    /// strict, the person is asked now, outside the shared lock, so other sessions go on while
    /// the prompt waits. A strict token answers CKR_USER_NOT_LOGGED_IN.
    func askApproval(_ session: Session, _ operation: KeyOperation) throws(CKRError) {
        let request = try shared { () throws(CKRError) -> ApprovalRequest in
            guard !Self.isStrict(session.token) else { throw CKRError(CKR.userNotLoggedIn) }
            // A locked key is not worth asking about.
            if operation.key.approval == .password && session.token.keyTriesLeft(operation.key.handle) == 0 {
                throw CKRError(CKR.pinLocked)
            }
            let what = session.purpose(of: operation)
            return ApprovalRequest(session: session, operation: operation, what: what, fromLogin: false)
        }
        try apply(session, request, request.ask())
    }

    /// C_Login(CKU_CONTEXT_SPECIFIC) with a NULL PIN: the module asks the person for the
    /// operation awaiting the login (session lock held, shared lock not).
    func awaitLoginApproval(_ session: Session) throws(CKRError) {
        let request = try shared { () throws(CKRError) -> ApprovalRequest in
            guard session.token.loggedIn == CKU.user else { throw CKRError(CKR.userNotLoggedIn) }
            guard let operation = session.operationAwaitingLogin else { throw CKRError(CKR.operationNotInitialized) }
            guard !Self.isStrict(session.token) else { throw CKRError(CKR.argumentsBad) }
            let what = session.purpose(of: operation)
            return ApprovalRequest(session: session, operation: operation, what: what, fromLogin: true)
        }
        try apply(session, request, request.ask())
    }

    /// The person's answer: a yes approves a Medium key's operation, a password a High key's
    /// (as a counted try); anything else is CKR_FUNCTION_CANCELED. A C_Login(CKU_USER, NULL)
    /// logs in with the PIN typed.
    func apply(_ session: Session, _ request: ApprovalRequest, _ answer: Pinentry.Answer) throws(CKRError) {
        let token = session.token
        guard let operation = request.operation else { return try applyLogin(session, answer) }
        func refuse(_ rv: CK_RV, _ outcome: String) -> CKRError {
            token.audit(key: request.keyRef, operation: request.what, outcome: outcome)
            return CKRError(rv)
        }
        switch answer {
        case .confirmed where request.approval == .confirm:
            operation.approved = true
            token.audit(key: request.keyRef, operation: request.what, outcome: "approved")
        case .password(var secret) where request.approval == .password:
            defer { wipe(&secret) }
            do throws(CKRError) {
                try shared { () throws(CKRError) in try approve(session, operation, secret: secret) }
            } catch {
                throw refuse(error.rv, error.rv == CKR.pinLocked ? "refused: key locked" : "refused: wrong password")
            }
            token.audit(key: request.keyRef, operation: request.what, outcome: "approved")
        case .password(var secret):
            wipe(&secret)
            throw refuse(CKR.functionCanceled, "refused")
        case .confirmed, .refused:
            throw refuse(CKR.functionCanceled, "refused")
        case .timedOut:
            throw refuse(CKR.functionCanceled, "timed out")
        case .unavailable:
            throw refuse(CKR.functionCanceled, "no pinentry, terminal or display")
        }
    }

    /// C_Login(CKU_USER, NULL): the token PIN as the person typed it into the pinentry.
    private func applyLogin(_ session: Session, _ answer: Pinentry.Answer) throws(CKRError) {
        guard case .password(var pin) = answer else {
            session.token.audit(key: "", operation: "user login", outcome: "refused")
            throw CKRError(CKR.functionCanceled)
        }
        defer { wipe(&pin) }
        try login(session, user: CKU.user, pin: pin)
    }

    /// C_Login(CKU_USER, NULL), the protected authentication path the token offers when it is
    /// not strict: the module asks for the token PIN.
    func awaitUserLogin(_ session: Session) throws(CKRError) {
        let request = try shared { () throws(CKRError) -> ApprovalRequest in
            guard !Self.isStrict(session.token) else { throw CKRError(CKR.argumentsBad) }
            if session.token.loggedIn == CKU.user { throw CKRError(CKR.userAlreadyLoggedIn) }
            return ApprovalRequest(session: session, operation: nil, what: "log in", fromLogin: true)
        }
        try apply(session, request, request.ask())
    }

    /// The context login's check of a secret for one operation: the key's own password where it
    /// has one, else the user PIN, as a counted try of that key.
    func approve(_ session: Session, _ operation: KeyOperation, secret: [UInt8]) throws(CKRError) {
        let token = session.token
        let key = operation.key
        do throws(CKRError) {
            try token.countedKeyTry(key.handle) { () throws(CKRError) in
                if key.hasKeyPassword {
                    operation.approvedKey = try openWithPassword(key, password: secret)
                } else if !token.checkUserPIN(secret) {
                    throw CKRError(CKR.pinIncorrect)
                }
            }
        } catch {
            if error.rv == CKR.pinIncorrect || error.rv == CKR.pinLocked {
                token.audit(
                    key: key.auditName, operation: "context login",
                    outcome: error.rv == CKR.pinLocked ? "failed: key locked" : "failed: wrong password")
            }
            throw error
        }
        operation.approved = true
    }
}
