internal import CPKCS11

extension Provider {
    // MARK: - Copy

    /// C_CopyObject: a new object with the original's attributes, changed by `template` only
    /// where a change tightens policy (see `tightened`); the approval a use needs and the key's
    /// origin (LOCAL, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE, KEY_GEN_MECHANISM) are copied as they
    /// are. A key sealed under its own password is not copied: each copy would get wrong-password
    /// tries of its own.
    func copyObject(_ handle: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, template: Template) throws(CKRError)
        -> CK_OBJECT_HANDLE
    {
        let session = try session(handle)
        guard let original = session.token.object(object), original.handle != Token.reportHandle else {
            throw CKRError(CKR.objectHandleInvalid)
        }
        guard original.attributes.bool(CKA.copyable) != false, !original.hasKeyPassword else {
            throw CKRError(CKR.actionProhibited)
        }
        // The SO alone marks objects trusted (as in makeObject).
        if template.bool(CKA.trusted) == true && session.token.loggedIn != CKU.so {
            throw CKRError(CKR.attributeReadOnly)
        }
        try AttributeApplicability.check(template, objectClass: original.objectClass, keyType: original.keyType)
        let attributes = try tightened(original.attributes, by: template, copying: true)
        let isToken = attributes.bool(CKA.token) ?? false
        let isPrivate = attributes.bool(CKA.private) ?? false
        if isToken && !session.readWrite { throw CKRError(CKR.sessionReadOnly) }
        if isPrivate && session.token.loggedIn != CKU.user { throw CKRError(CKR.userNotLoggedIn) }
        let copy = TokenObject(
            handle: try session.token.newHandle(), isPrivate: isPrivate,
            session: isToken ? nil : session.handle, attributes: attributes)
        copy.cachedKey = original.cachedKey
        if original.approval != .none { try session.token.copyKeyTries(from: original.handle, to: copy.handle) }
        try session.token.store(copy)
        auditKey(session, copy, "copy (C_CopyObject)")
        return copy.handle
    }

    /// `attributes` changed by a C_SetAttributeValue or C_CopyObject template: names and
    /// metadata freely, policy only tighter (SENSITIVE and ALWAYS_AUTHENTICATE to true,
    /// EXTRACTABLE to false; for a copy also PRIVATE to true, MODIFIABLE, COPYABLE and
    /// DESTROYABLE to false, and TOKEN either way); anything else only to the value it has.
    /// CKR_ATTRIBUTE_READ_ONLY otherwise.
    func tightened(_ attributes: AttributeMap, by template: Template, copying: Bool) throws(CKRError) -> AttributeMap {
        var updated = attributes
        let objectClass = attributes.ulong(CKA.class)
        let isKey = objectClass == CKO.privateKey || objectClass == CKO.secretKey
        for (type, value) in template {
            if relabelling.contains(type) || (type == CKA.value && objectClass == CKO.data) {
                updated[type] = value
                continue
            }
            let wanted = value.bool
            switch type {
            case CKA.sensitive where isKey, CKA.alwaysAuthenticate where isKey:
                guard let wanted, wanted || updated.bool(type) == false else { throw CKRError(CKR.attributeReadOnly) }
                if wanted { updated[type] = [1] }
            case CKA.extractable where isKey:
                guard let wanted, !wanted || updated.bool(type) == true else { throw CKRError(CKR.attributeReadOnly) }
                if !wanted { updated[type] = [0] }
            case CKA.token where copying:
                guard wanted != nil else { throw CKRError(CKR.attributeValueInvalid) }
                updated[type] = value
            case CKA.private where copying:
                guard let wanted, wanted || updated.bool(type) == false else { throw CKRError(CKR.attributeReadOnly) }
                updated[type] = value
            case CKA.modifiable where copying, CKA.copyable where copying, CKA.destroyable where copying:
                guard let wanted, !wanted || updated.bool(type) != false else { throw CKRError(CKR.attributeReadOnly) }
                updated[type] = value
            default:
                guard isKey || copying, updated[type] == value else { throw CKRError(CKR.attributeReadOnly) }
            }
        }
        return updated
    }
}

extension Token {
    /// A copied always-authenticate key starts with the original's wrong-password count, so a
    /// copy is no way round a locked or nearly locked key.
    func copyKeyTries(from original: CK_OBJECT_HANDLE, to copy: CK_OBJECT_HANDLE) throws(CKRError) {
        try exclusively { () throws(CKRError) in
            guard keyTries[original] != 0 else { return }
            var counted = keyTries
            counted[copy] = keyTries[original]
            try directory.write(KeyTries.fileName, counted.encoded())
            keyTries = counted
        }
    }
}
