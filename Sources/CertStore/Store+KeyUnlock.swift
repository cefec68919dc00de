import PKCS11

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
        var template: [Attribute] = [Attribute(.privateKey)]
        if let label = uri.object { template.append(Attribute(.label, string: label)) }
        if let id = uri.id { template.append(Attribute(.id, bytes: id)) }
        guard template.count > 1 else {
            throw StoreError(.usage, "name the key with object=LABEL or id=ID in the URI (\(uri.description))")
        }
        let key: Object
        let values: AttributeValues
        do throws(PKCS11Error) {
            key = try session.findObject(template, what: "private key matching \(uri.description)")
            values = try key.attributes(KeyDescription.attributes)
        } catch {
            throw StoreError(error, doing: "finding the key", token: token)
        }
        let description = try KeyDescription(values, token: token)
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
