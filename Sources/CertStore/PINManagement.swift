public import PKCS11

extension Store {
    /// Whose PIN: the user's, or the security officer's.
    public enum PINRole: Sendable {
        case user, securityOfficer
    }

    /// Changes a PIN (C_Login as the role with the old PIN, then C_SetPIN). The old PIN is read
    /// once, used for the login and the change, then wiped.
    public func changePIN(on token: Token, role: PINRole, old: PINProvider, new: PINProvider) throws(StoreError) {
        let session = try openReadWrite(token)
        let oldPIN: PIN? = try old(token)
        let who = role == .user ? "user" : "security officer"
        do throws(PKCS11Error) {
            try session.login(role == .user ? .user : .securityOfficer, pin: oldPIN)
        } catch  where error.returnValue == .userAlreadyLoggedIn {
            // Someone else's session in this process logged in already; the PIN is still checked by C_SetPIN.
        } catch {
            throw Self.pinError(
                error, doing: "logging in as the \(who) of \"\(token.info.label)\"", role: role, token: token)
        }
        let newPIN = try new(token)
        do throws(PKCS11Error) {
            guard let oldPIN else { return }
            try session.changePIN(old: oldPIN, new: newPIN)
        } catch {
            throw Self.pinError(
                error, doing: "changing the \(who) PIN of \"\(token.info.label)\"", role: role, token: token)
        }
        try? session.logout()
    }

    /// Sets a new user PIN with the security officer's PIN (C_Login(CKU_SO) → C_InitPIN): how a
    /// locked or forgotten user PIN is unblocked.
    public func unblockPIN(on token: Token, soPIN: PINProvider, newPIN: PINProvider) throws(StoreError) {
        let session = try openReadWrite(token)
        let so: PIN? = try soPIN(token)
        do throws(PKCS11Error) {
            try session.login(.securityOfficer, pin: so)
        } catch {
            throw Self.pinError(
                error, doing: "logging in as the security officer of \"\(token.info.label)\"", role: .securityOfficer,
                token: token)
        }
        defer { try? session.logout() }
        let user = try newPIN(token)
        do throws(PKCS11Error) {
            try session.initializeUserPIN(user)
        } catch {
            throw Self.pinError(
                error, doing: "setting the user PIN of \"\(token.info.label)\"", role: .securityOfficer, token: token)
        }
    }

    private func openReadWrite(_ token: Token) throws(StoreError) -> Session {
        do throws(PKCS11Error) { return try token.openSession(readWrite: true) } catch {
            throw StoreError(error, doing: "opening a session on \"\(token.info.label)\"", token: token)
        }
    }

    /// StoreError's mapping reads the user PIN's counters; for the SO PIN, read the SO's.
    private static func pinError(_ error: PKCS11Error, doing action: String, role: PINRole, token: Token) -> StoreError
    {
        guard role == .securityOfficer, [.pinIncorrect, .pinInvalid, .pinLenRange].contains(error.returnValue) else {
            return StoreError(error, doing: action, token: token)
        }
        var sentence = "\(action) failed: wrong SO PIN (\(error))"
        if let flags = try? token.refreshed().info.flags {
            if flags.contains(.soPINLocked) {
                return StoreError(
                    .locked,
                    "\(action) failed: wrong SO PIN, and the SO PIN is now locked; the token must be re-initialized")
            } else if flags.contains(.soPINFinalTry) {
                sentence += "; one try left before the SO PIN locks"
            } else if flags.contains(.soPINCountLow) {
                sentence += "; few tries left before the SO PIN locks"
            }
        }
        return StoreError(.wrongSecret, sentence)
    }
}
