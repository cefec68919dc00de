internal import PKCS11

/// A token the store found: what it says about itself, and where it sits. Commands get tokens
/// from the store and hand them back to it; the slot and its sessions stay inside CertStore.
public struct Token: Sendable {
    /// The PKCS#11 token: its slot, and CK_TOKEN_INFO as read when it was found.
    let pkcs11: PKCS11.Token

    init(_ pkcs11: PKCS11.Token) { self.pkcs11 = pkcs11 }

    /// The token label.
    public var label: String { info.label }
    /// The token's serial number.
    public var serial: String { info.serialNumber }
    /// Whether the token is initialized (CKF_TOKEN_INITIALIZED); an empty slot's is not.
    public var isInitialized: Bool { info.flags.contains(.tokenInitialized) }

    /// The slot holding the token.
    var slot: Slot { pkcs11.slot }
    /// CK_TOKEN_INFO as read when the token was found.
    var info: TokenInfo { pkcs11.info }

    /// Opens a session (C_OpenSession); read-write when the caller will create or destroy objects.
    func openSession(readWrite: Bool = false) throws(PKCS11Error) -> Session {
        try pkcs11.openSession(readWrite: readWrite)
    }

    /// The same token read again, e.g. to see PIN counters after a failed login.
    func refreshed() throws(PKCS11Error) -> Token { Token(try pkcs11.refreshed()) }
}
