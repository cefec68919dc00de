public import PKCS11

extension Store {
    /// Unlocks a key that five wrong passwords locked (CertBridge's software token): the user
    /// logs in, and the SO PIN, given to the key as CertBridge's write-only unlock attribute
    /// (CKA_CERTBRIDGE_UNLOCK_WITH_SO_PIN), clears its count. A wrong SO PIN counts as an SO try.
    public func unlockKey(matching uri: PKCS11URI, pin: @escaping PINProvider, soPIN: PINProvider) throws(StoreError)
        -> KeyDescription
    {
        let token = try token(matching: uri)
        guard token.isSoftToken else {
            throw StoreError(
                .usage,
                "\"\(token.info.label)\" does not lock keys on wrong passwords: only CertBridge's software token does")
        }
        let session = try session(on: token, readWrite: true, pin: pin)
        let (key, description) = try Self.namedPrivateKey(uri, in: session, on: token)
        let so = try soPIN(token)
        var unlock = so.withUnsafeBytes { Attribute(.certBridgeUnlockWithSOPIN, bytes: Array($0)) }
        defer { unlock.wipe() }
        do throws(PKCS11Error) {
            try session.setAttributes([unlock], of: key)
        } catch {
            throw StoreError(error, doing: "unlocking key \"\(description.label)\" with the SO PIN", token: token)
        }
        return description
    }
}
