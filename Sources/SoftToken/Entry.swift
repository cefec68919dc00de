public import CPKCS11
import CSoftTokenCrypto

/// The C ABI of the software token: each function has the exact signature of its C_* entry
/// point, checks its pointers, copies its inputs and calls the provider under its lock.
/// SoftTokenModule puts these into the CK_FUNCTION_LIST.
public enum SoftTokenEntry {
    /// A C byte buffer argument (CK_BYTE_PTR).
    public typealias Bytes = UnsafeMutablePointer<CK_BYTE>?
    /// A C length argument (CK_ULONG_PTR).
    public typealias Length = UnsafeMutablePointer<CK_ULONG>?

    static func copy(_ pointer: Bytes, _ length: CK_ULONG) throws(CKRError) -> [UInt8] {
        guard length > 0 else { return [] }
        guard let pointer else { throw CKRError(CKR.argumentsBad) }
        return Array(UnsafeBufferPointer(start: pointer, count: Int(length)))
    }

    static func raw(_ pointer: Bytes, _ length: CK_ULONG) throws(CKRError) -> UnsafeRawBufferPointer {
        guard length > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        guard let pointer else { throw CKRError(CKR.argumentsBad) }
        return UnsafeRawBufferPointer(start: pointer, count: Int(length))
    }

    static func output(_ buffer: Bytes, _ length: Length) throws(CKRError) -> Output {
        guard let length else { throw CKRError(CKR.argumentsBad) }
        return Output(buffer: buffer, length: length)
    }

    static func mechanism(_ pointer: UnsafeMutablePointer<CK_MECHANISM>?) throws(CKRError) -> CK_MECHANISM {
        guard let pointer else { throw CKRError(CKR.argumentsBad) }
        return pointer.pointee
    }

    /// Blank-padded text into a fixed-size field of a C struct.
    static func fill<T>(_ field: inout T, _ text: String) {
        withUnsafeMutableBytes(of: &field) { buffer in
            buffer.initializeMemory(as: UInt8.self, repeating: 0x20)
            for (i, byte) in text.utf8.prefix(buffer.count).enumerated() { buffer[i] = byte }
        }
    }

    static func fill<T>(_ field: inout T, _ bytes: [UInt8]) {
        withUnsafeMutableBytes(of: &field) { buffer in
            buffer.initializeMemory(as: UInt8.self, repeating: 0x20)
            for (i, byte) in bytes.prefix(buffer.count).enumerated() { buffer[i] = byte }
        }
    }

    // MARK: - General

    /// C_Initialize.
    public static func initialize(_ args: UnsafeMutableRawPointer?) -> CK_RV { SoftTokenProvider.initialize(args) }
    /// C_Finalize.
    public static func finalize(_ reserved: UnsafeMutableRawPointer?) -> CK_RV { SoftTokenProvider.finalize(reserved) }

    /// C_GetInfo.
    public static func getInfo(_ info: UnsafeMutablePointer<CK_INFO>?) -> CK_RV {
        SoftTokenProvider.call { _ throws(CKRError) in
            guard let info else { throw CKRError(CKR.argumentsBad) }
            var value = CK_INFO()
            value.cryptokiVersion = CK_VERSION(major: 2, minor: 40)
            fill(&value.manufacturerID, "CertBridge")
            fill(&value.libraryDescription, "CertBridge software token")
            value.libraryVersion = CK_VERSION(major: 1, minor: 0)
            info.pointee = value
        }
    }

    // MARK: - Slots and tokens

    /// C_GetSlotList.
    public static func getSlotList(_ present: CK_BBOOL, _ list: UnsafeMutablePointer<CK_SLOT_ID>?, _ count: Length)
        -> CK_RV
    {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let count else { throw CKRError(CKR.argumentsBad) }
            let slots = provider.slotList(fresh: list == nil)
            guard let list else {
                count.pointee = CK_ULONG(slots.count)
                return
            }
            guard count.pointee >= CK_ULONG(slots.count) else {
                count.pointee = CK_ULONG(slots.count)
                throw CKRError(CKR.bufferTooSmall)
            }
            for (i, slot) in slots.enumerated() { list[i] = slot }
            count.pointee = CK_ULONG(slots.count)
        }
    }

    /// C_GetSlotInfo.
    public static func getSlotInfo(_ slot: CK_SLOT_ID, _ info: UnsafeMutablePointer<CK_SLOT_INFO>?) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let info else { throw CKRError(CKR.argumentsBad) }
            var value = CK_SLOT_INFO()
            if let refusal = provider.refusals[slot] {
                fill(&value.slotDescription, "refused: " + refusal.reason)
                fill(&value.manufacturerID, "CertBridge")
                value.flags = CKF.tokenPresent
                info.pointee = value
                return
            }
            let token = try provider.token(inSlot: slot)
            fill(
                &value.slotDescription,
                token == nil ? "CertBridge software token (new token)" : "CertBridge software token")
            fill(&value.manufacturerID, "CertBridge")
            value.flags = CKF.tokenPresent
            value.hardwareVersion = CK_VERSION(major: 1, minor: 0)
            value.firmwareVersion = CK_VERSION(major: 1, minor: 0)
            info.pointee = value
        }
    }

    /// C_GetTokenInfo.
    public static func getTokenInfo(_ slot: CK_SLOT_ID, _ info: UnsafeMutablePointer<CK_TOKEN_INFO>?) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let info else { throw CKRError(CKR.argumentsBad) }
            if let refusal = provider.refusals[slot] {
                // Shown, so that `certbridge tokens` can say why; no session opens on it.
                var value = CK_TOKEN_INFO()
                fill(&value.label, refusal.label)
                fill(&value.manufacturerID, "CertBridge")
                fill(&value.model, "refused")
                fill(&value.utcTime, "")
                info.pointee = value
                return
            }
            let token = try provider.token(inSlot: slot)
            // A failed re-read (another process mid-change) keeps the last state rather than hiding the token.
            try? token?.refresh()
            var value = CK_TOKEN_INFO()
            fill(&value.label, token?.label ?? [])
            fill(&value.manufacturerID, "CertBridge")
            fill(&value.model, "Software token")
            fill(&value.serialNumber, token?.serial ?? "")
            fill(&value.utcTime, "")
            value.flags = token?.flags ?? (CKF.rng | CKF.loginRequired)
            // Not strict: the module asks the person itself (C_Login with a NULL PIN).
            if let token, !Provider.isStrict(token) { value.flags |= CKF.protectedAuthenticationPath }
            let sessions = token.map { provider.sessions(of: $0) } ?? []
            value.ulMaxSessionCount = CK.effectivelyInfinite
            value.ulSessionCount = CK_ULONG(sessions.count)
            value.ulMaxRwSessionCount = 0
            value.ulRwSessionCount = CK_ULONG(sessions.filter(\.readWrite).count)
            value.ulMaxPinLen = 255
            value.ulMinPinLen = 4
            value.ulTotalPublicMemory = unavailable
            value.ulFreePublicMemory = unavailable
            value.ulTotalPrivateMemory = unavailable
            value.ulFreePrivateMemory = unavailable
            value.hardwareVersion = CK_VERSION(major: 1, minor: 0)
            value.firmwareVersion = CK_VERSION(major: 1, minor: 0)
            info.pointee = value
        }
    }

    /// C_GetMechanismList.
    public static func getMechanismList(
        _ slot: CK_SLOT_ID, _ list: UnsafeMutablePointer<CK_MECHANISM_TYPE>?, _ count: Length
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let count else { throw CKRError(CKR.argumentsBad) }
            _ = try provider.token(inSlot: slot)
            let all = Mechanisms.all
            guard let list else {
                count.pointee = CK_ULONG(all.count)
                return
            }
            guard count.pointee >= CK_ULONG(all.count) else {
                count.pointee = CK_ULONG(all.count)
                throw CKRError(CKR.bufferTooSmall)
            }
            for (i, info) in all.enumerated() { list[i] = info.type }
            count.pointee = CK_ULONG(all.count)
        }
    }

    /// C_GetMechanismInfo.
    public static func getMechanismInfo(
        _ slot: CK_SLOT_ID, _ type: CK_MECHANISM_TYPE, _ info: UnsafeMutablePointer<CK_MECHANISM_INFO>?
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let info else { throw CKRError(CKR.argumentsBad) }
            _ = try provider.token(inSlot: slot)
            guard let mechanism = Mechanisms.info(type) else { throw CKRError(CKR.mechanismInvalid) }
            info.pointee = CK_MECHANISM_INFO(
                ulMinKeySize: mechanism.minKey, ulMaxKeySize: mechanism.maxKey, flags: mechanism.flags)
        }
    }

    /// C_InitToken.
    public static func initToken(_ slot: CK_SLOT_ID, _ pin: Bytes, _ pinLength: CK_ULONG, _ label: Bytes) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            var so = try copy(pin, pinLength)
            defer { wipe(&so) }
            guard let label else { throw CKRError(CKR.argumentsBad) }
            try provider.initToken(slot: slot, soPIN: so, label: Array(UnsafeBufferPointer(start: label, count: 32)))
        }
    }

    /// C_InitPIN.
    public static func initPIN(_ session: CK_SESSION_HANDLE, _ pin: Bytes, _ pinLength: CK_ULONG) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            var value = try copy(pin, pinLength)
            defer { wipe(&value) }
            try provider.initPIN(session, pin: value)
        }
    }

    /// C_SetPIN.
    public static func setPIN(
        _ session: CK_SESSION_HANDLE, _ old: Bytes, _ oldLength: CK_ULONG, _ new: Bytes, _ newLength: CK_ULONG
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            var oldPIN = try copy(old, oldLength)
            var newPIN = try copy(new, newLength)
            defer {
                wipe(&oldPIN)
                wipe(&newPIN)
            }
            try provider.setPIN(session, old: oldPIN, new: newPIN)
        }
    }

    // MARK: - Sessions

    /// C_OpenSession.
    public static func openSession(
        _ slot: CK_SLOT_ID, _ flags: CK_FLAGS, _ application: UnsafeMutableRawPointer?,
        _ notify: CK_NOTIFY?, _ session: UnsafeMutablePointer<CK_SESSION_HANDLE>?
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let session else { throw CKRError(CKR.argumentsBad) }
            session.pointee = try provider.openSession(slot: slot, flags: flags)
        }
    }

    /// C_CloseSession.
    public static func closeSession(_ session: CK_SESSION_HANDLE) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in try provider.closeSession(session) }
    }

    /// C_CloseAllSessions.
    public static func closeAllSessions(_ slot: CK_SLOT_ID) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in try provider.closeAllSessions(slot: slot) }
    }

    /// C_GetSessionInfo.
    public static func getSessionInfo(_ session: CK_SESSION_HANDLE, _ info: UnsafeMutablePointer<CK_SESSION_INFO>?)
        -> CK_RV
    {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let info else { throw CKRError(CKR.argumentsBad) }
            let value = try provider.session(session)
            info.pointee = CK_SESSION_INFO(
                slotID: value.slot, state: value.state,
                flags: CKF.serialSession | (value.readWrite ? CKF.rwSession : 0), ulDeviceError: 0)
        }
    }

    /// C_Login.
    public static func login(_ session: CK_SESSION_HANDLE, _ user: CK_USER_TYPE, _ pin: Bytes, _ pinLength: CK_ULONG)
        -> CK_RV
    {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            var value: [UInt8]? = pin == nil && user != CKU.so ? nil : try copy(pin, pinLength)
            defer { if value != nil { wipe(&value!) } }
            try provider.login(session, user: user, pin: value)
        }
    }

    /// C_Logout.
    public static func logout(_ session: CK_SESSION_HANDLE) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in try provider.logout(session) }
    }

    // MARK: - Objects

    /// C_CreateObject.
    public static func createObject(
        _ session: CK_SESSION_HANDLE, _ template: UnsafeMutablePointer<CK_ATTRIBUTE>?, _ count: CK_ULONG,
        _ object: UnsafeMutablePointer<CK_OBJECT_HANDLE>?
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let object else { throw CKRError(CKR.argumentsBad) }
            object.pointee = try provider.createObject(session, template: try Template(template, count: count))
        }
    }

    /// C_DestroyObject.
    public static func destroyObject(_ session: CK_SESSION_HANDLE, _ object: CK_OBJECT_HANDLE) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in try provider.destroyObject(session, object: object) }
    }

    /// C_GetAttributeValue.
    public static func getAttributeValue(
        _ session: CK_SESSION_HANDLE, _ object: CK_OBJECT_HANDLE,
        _ template: UnsafeMutablePointer<CK_ATTRIBUTE>?, _ count: CK_ULONG
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let template else { throw CKRError(CKR.argumentsBad) }
            try provider.getAttributes(
                session, object: object, template: UnsafeMutableBufferPointer(start: template, count: Int(count)))
        }
    }

    /// C_SetAttributeValue.
    public static func setAttributeValue(
        _ session: CK_SESSION_HANDLE, _ object: CK_OBJECT_HANDLE,
        _ template: UnsafeMutablePointer<CK_ATTRIBUTE>?, _ count: CK_ULONG
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            try provider.setAttributes(session, object: object, template: try Template(template, count: count))
        }
    }

    /// C_FindObjectsInit.
    public static func findObjectsInit(
        _ session: CK_SESSION_HANDLE, _ template: UnsafeMutablePointer<CK_ATTRIBUTE>?, _ count: CK_ULONG
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            try provider.findInit(session, template: try Template(template, count: count))
        }
    }

    /// C_FindObjects.
    public static func findObjects(
        _ session: CK_SESSION_HANDLE, _ objects: UnsafeMutablePointer<CK_OBJECT_HANDLE>?, _ max: CK_ULONG,
        _ count: Length
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let objects, let count else { throw CKRError(CKR.argumentsBad) }
            let batch = try provider.find(session, max: Int(max))
            for (i, handle) in batch.enumerated() { objects[i] = handle }
            count.pointee = CK_ULONG(batch.count)
        }
    }

    /// C_FindObjectsFinal.
    public static func findObjectsFinal(_ session: CK_SESSION_HANDLE) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in try provider.findFinal(session) }
    }

    // MARK: - Crypto

    /// C_DigestInit.
    public static func digestInit(_ session: CK_SESSION_HANDLE, _ mechanism: UnsafeMutablePointer<CK_MECHANISM>?)
        -> CK_RV
    {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.digestInit(session, mechanism: try self.mechanism(mechanism))
        }
    }

    /// C_Digest.
    public static func digest(
        _ session: CK_SESSION_HANDLE, _ data: Bytes, _ length: CK_ULONG, _ out: Bytes, _ outLength: Length
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.digest(session, data: try raw(data, length), output: try output(out, outLength))
        }
    }

    /// C_DigestUpdate.
    public static func digestUpdate(_ session: CK_SESSION_HANDLE, _ data: Bytes, _ length: CK_ULONG) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.digestUpdate(session, data: try raw(data, length))
        }
    }

    /// C_DigestFinal.
    public static func digestFinal(_ session: CK_SESSION_HANDLE, _ out: Bytes, _ outLength: Length) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.digest(session, data: nil, output: try output(out, outLength))
        }
    }

    /// C_SignInit.
    public static func signInit(
        _ session: CK_SESSION_HANDLE, _ mechanism: UnsafeMutablePointer<CK_MECHANISM>?, _ key: CK_OBJECT_HANDLE
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.signInit(session, mechanism: try self.mechanism(mechanism), key: key)
        }
    }

    /// C_Sign.
    public static func sign(
        _ session: CK_SESSION_HANDLE, _ data: Bytes, _ length: CK_ULONG, _ out: Bytes, _ outLength: Length
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.sign(session, data: try raw(data, length), output: try output(out, outLength), final: false)
        }
    }

    /// C_SignUpdate.
    public static func signUpdate(_ session: CK_SESSION_HANDLE, _ data: Bytes, _ length: CK_ULONG) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.update(session.sign, try raw(data, length))
        }
    }

    /// C_SignFinal.
    public static func signFinal(_ session: CK_SESSION_HANDLE, _ out: Bytes, _ outLength: Length) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.sign(session, data: nil, output: try output(out, outLength), final: true)
        }
    }

    /// C_VerifyInit.
    public static func verifyInit(
        _ session: CK_SESSION_HANDLE, _ mechanism: UnsafeMutablePointer<CK_MECHANISM>?, _ key: CK_OBJECT_HANDLE
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.verifyInit(session, mechanism: try self.mechanism(mechanism), key: key)
        }
    }

    /// C_Verify.
    public static func verify(
        _ session: CK_SESSION_HANDLE, _ data: Bytes, _ length: CK_ULONG, _ signature: Bytes, _ signatureLength: CK_ULONG
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.verify(session, data: try copy(data, length), signature: try copy(signature, signatureLength))
        }
    }

    /// C_VerifyUpdate.
    public static func verifyUpdate(_ session: CK_SESSION_HANDLE, _ data: Bytes, _ length: CK_ULONG) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.update(session.verify, try raw(data, length))
        }
    }

    /// C_VerifyFinal.
    public static func verifyFinal(_ session: CK_SESSION_HANDLE, _ signature: Bytes, _ signatureLength: CK_ULONG)
        -> CK_RV
    {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.verify(session, data: nil, signature: try copy(signature, signatureLength))
        }
    }

    /// C_DecryptInit.
    public static func decryptInit(
        _ session: CK_SESSION_HANDLE, _ mechanism: UnsafeMutablePointer<CK_MECHANISM>?, _ key: CK_OBJECT_HANDLE
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.decryptInit(session, mechanism: try self.mechanism(mechanism), key: key)
        }
    }

    /// C_Decrypt.
    public static func decrypt(
        _ session: CK_SESSION_HANDLE, _ data: Bytes, _ length: CK_ULONG, _ out: Bytes, _ outLength: Length
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.crypt(
                session, encrypting: false, input: try raw(data, length), output: try output(out, outLength),
                part: .single)
        }
    }

    /// C_GenerateKey.
    public static func generateKey(
        _ session: CK_SESSION_HANDLE, _ mechanism: UnsafeMutablePointer<CK_MECHANISM>?,
        _ template: UnsafeMutablePointer<CK_ATTRIBUTE>?, _ count: CK_ULONG,
        _ key: UnsafeMutablePointer<CK_OBJECT_HANDLE>?
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let key else { throw CKRError(CKR.argumentsBad) }
            key.pointee = try provider.generateKey(
                session, mechanism: try self.mechanism(mechanism), template: try Template(template, count: count))
        }
    }

    /// C_GenerateKeyPair.
    public static func generateKeyPair(
        _ session: CK_SESSION_HANDLE, _ mechanism: UnsafeMutablePointer<CK_MECHANISM>?,
        _ publicTemplate: UnsafeMutablePointer<CK_ATTRIBUTE>?, _ publicCount: CK_ULONG,
        _ privateTemplate: UnsafeMutablePointer<CK_ATTRIBUTE>?, _ privateCount: CK_ULONG,
        _ publicKey: UnsafeMutablePointer<CK_OBJECT_HANDLE>?,
        _ privateKey: UnsafeMutablePointer<CK_OBJECT_HANDLE>?
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let publicKey, let privateKey else { throw CKRError(CKR.argumentsBad) }
            let (pub, priv) = try provider.generateKeyPair(
                session, mechanism: try self.mechanism(mechanism),
                publicTemplate: try Template(publicTemplate, count: publicCount),
                privateTemplate: try Template(privateTemplate, count: privateCount))
            publicKey.pointee = pub
            privateKey.pointee = priv
        }
    }

    /// C_WrapKey.
    public static func wrapKey(
        _ session: CK_SESSION_HANDLE, _ mechanism: UnsafeMutablePointer<CK_MECHANISM>?, _ wrapping: CK_OBJECT_HANDLE,
        _ key: CK_OBJECT_HANDLE, _ out: Bytes, _ outLength: Length
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            try provider.wrapKey(
                session, mechanism: try self.mechanism(mechanism), wrapping: wrapping, key: key,
                output: try output(out, outLength))
        }
    }

    /// C_UnwrapKey.
    public static func unwrapKey(
        _ session: CK_SESSION_HANDLE, _ mechanism: UnsafeMutablePointer<CK_MECHANISM>?, _ unwrapping: CK_OBJECT_HANDLE,
        _ wrapped: Bytes, _ wrappedLength: CK_ULONG, _ template: UnsafeMutablePointer<CK_ATTRIBUTE>?,
        _ count: CK_ULONG, _ key: UnsafeMutablePointer<CK_OBJECT_HANDLE>?
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let key else { throw CKRError(CKR.argumentsBad) }
            key.pointee = try provider.unwrapKey(
                session, mechanism: try self.mechanism(mechanism), unwrapping: unwrapping,
                wrapped: try copy(wrapped, wrappedLength), template: try Template(template, count: count))
        }
    }

    /// C_GenerateRandom.
    public static func generateRandom(_ session: CK_SESSION_HANDLE, _ out: Bytes, _ length: CK_ULONG) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            _ = try provider.session(session)
            guard length > 0 else { return }
            guard let out else { throw CKRError(CKR.argumentsBad) }
            let bytes = try randomBytes(Int(length))
            bytes.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: bytes.count) }
        }
    }

    /// C_SeedRandom: the bytes are mixed into OpenSSL's generator (which keeps seeding itself
    /// from the OS, so a caller's seed can add to it but never replace it).
    public static func seedRandom(_ session: CK_SESSION_HANDLE, _ seed: Bytes, _ length: CK_ULONG) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            _ = try provider.session(session)
            let bytes = try raw(seed, length)
            guard cbst_seed_random(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count) == 1 else {
                throw CKRError(CKR.functionFailed)
            }
        }
    }

    /// Everything the token does not do.
    public static let notSupported = CKR.functionNotSupported
}
