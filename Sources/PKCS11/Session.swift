internal import CPKCS11

/// A PKCS#11 session on one token. It keeps its Module alive (so it can never outlive
/// C_Finalize) and closes itself when it goes away. Use a session from one thread at a time.
public final class Session {
    /// The slot the session is open on; keeps its module loaded.
    public let slot: Slot
    let handle: CK_SESSION_HANDLE
    private var functions: CK_FUNCTION_LIST { slot.module.functions.pointee }

    init(slot: Slot, readWrite: Bool) throws(PKCS11Error) {
        self.slot = slot
        var flags = CK_FLAGS(CKF_SERIAL_SESSION)
        if readWrite { flags |= CK_FLAGS(CKF_RW_SESSION) }
        var handle: CK_SESSION_HANDLE = 0
        try check("C_OpenSession", slot.module.functions.pointee.C_OpenSession?(slot.id, flags, nil, nil, &handle))
        self.handle = handle
    }

    deinit { _ = functions.C_CloseSession?(handle) }

    // MARK: Login

    /// C_Login. A nil PIN means the token's protected authentication path (a PIN pad).
    /// For `.contextSpecific`, call it after the operation's Init and before the operation.
    public func login(_ user: UserType, pin: borrowing PIN?) throws(PKCS11Error) {
        switch pin {
        case .some(let pin):
            try pin.withUnsafeBytes { (bytes) throws(PKCS11Error) in
                try check(
                    "C_Login",
                    functions.C_Login?(
                        handle, user.rawValue,
                        UnsafeMutablePointer(mutating: bytes.baseAddress), CK_ULONG(bytes.count)))
            }
        case .none:
            try check("C_Login", functions.C_Login?(handle, user.rawValue, nil, 0))
        }
    }

    /// C_Logout.
    public func logout() throws(PKCS11Error) {
        try check("C_Logout", functions.C_Logout?(handle))
    }

    /// Sets the user PIN while logged in as SO (C_InitPIN).
    public func initializeUserPIN(_ pin: borrowing PIN) throws(PKCS11Error) {
        try pin.withUnsafeBytes { (bytes) throws(PKCS11Error) in
            try check(
                "C_InitPIN",
                functions.C_InitPIN?(handle, UnsafeMutablePointer(mutating: bytes.baseAddress), CK_ULONG(bytes.count)))
        }
    }

    /// Changes the PIN of the logged-in user (C_SetPIN).
    public func changePIN(old: borrowing PIN, new: borrowing PIN) throws(PKCS11Error) {
        try old.withUnsafeBytes { (o) throws(PKCS11Error) in
            try new.withUnsafeBytes { (n) throws(PKCS11Error) in
                try check(
                    "C_SetPIN",
                    functions.C_SetPIN?(
                        handle,
                        UnsafeMutablePointer(mutating: o.baseAddress), CK_ULONG(o.count),
                        UnsafeMutablePointer(mutating: n.baseAddress), CK_ULONG(n.count)))
            }
        }
    }

    /// C_GetSessionInfo's state.
    public func state() throws(PKCS11Error) -> SessionState {
        var info = CK_SESSION_INFO()
        try check("C_GetSessionInfo", functions.C_GetSessionInfo?(handle, &info))
        return SessionState(rawValue: UInt(info.state))
    }

    // MARK: Objects

    /// C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal: the handles of every object that
    /// matches the template.
    public func findObjects(_ template: [Attribute]) throws(PKCS11Error) -> [Object] {
        try withTemplate(template) { (attrs, count) throws(PKCS11Error) in
            try check("C_FindObjectsInit", functions.C_FindObjectsInit?(handle, attrs, count))
        }
        defer { _ = functions.C_FindObjectsFinal?(handle) }
        var found: [Object] = []
        var batch = [CK_OBJECT_HANDLE](repeating: 0, count: 4096)
        while true {
            var count: CK_ULONG = 0
            try check("C_FindObjects", functions.C_FindObjects?(handle, &batch, CK_ULONG(batch.count), &count))
            found += batch.prefix(Int(count)).map { Object(session: self, handle: $0) }
            if count < batch.count { break }
        }
        return found
    }

    /// Exactly one object matching the template, or `noSuchObject` / `moreThanOne`.
    public func findObject(_ template: [Attribute], what: String) throws(PKCS11Error) -> Object {
        let found = try findObjects(template)
        guard found.count == 1 else {
            throw found.isEmpty
                ? PKCS11Error(.noSuchObject, reason: "no \(what) on token \"\(tokenLabel)\"")
                : PKCS11Error(
                    .moreThanOne,
                    reason: "\(found.count) objects match \(what) on token \"\(tokenLabel)\"; name one by id")
        }
        return found[0]
    }

    private var tokenLabel: String { (try? slot.token().info.label) ?? "?" }

    /// Reads attributes in at most two C_GetAttributeValue passes: lengths, then values. An
    /// attribute that is sensitive or unknown to the object is left out, not an error.
    public func attributes(_ types: [AttributeType], of object: Object) throws(PKCS11Error) -> AttributeValues {
        let unavailable = CK_ULONG.max  // CK_UNAVAILABLE_INFORMATION
        // Compared, not a Set: building one on every call (and its first use at all) was about
        // 0.7 % of `certbridge tokens`.
        func tolerated(_ rv: CK_RV) -> Bool {
            rv == ReturnValue.ok.rawValue || rv == ReturnValue.attributeSensitive.rawValue
                || rv == ReturnValue.attributeTypeInvalid.rawValue
        }
        var template = types.map { CK_ATTRIBUTE(type: $0.rawValue, pValue: nil, ulValueLen: 0) }
        let first = functions.C_GetAttributeValue?(handle, object.handle, &template, CK_ULONG(template.count))
        if let first, tolerated(first) {} else { try check("C_GetAttributeValue", first) }

        template = template.filter { $0.ulValueLen != unavailable }
        if template.isEmpty { return AttributeValues() }
        let arena = Arena(lengths: template.map { Int($0.ulValueLen) })
        defer { arena.release() }
        for n in template.indices { template[n].pValue = arena.slot(n).baseAddress }
        let second = functions.C_GetAttributeValue?(handle, object.handle, &template, CK_ULONG(template.count))
        if let second, tolerated(second) {} else { try check("C_GetAttributeValue", second) }

        // Sized once: growing it was as much again.
        var result = [AttributeType: [UInt8]](minimumCapacity: template.count)
        for (n, attribute) in template.enumerated() where attribute.ulValueLen != unavailable {
            result[AttributeType(rawValue: attribute.type)] = Array(arena.slot(n).prefix(Int(attribute.ulValueLen)))
        }
        return AttributeValues(result)
    }

    /// C_SetAttributeValue.
    public func setAttributes(_ template: [Attribute], of object: Object) throws(PKCS11Error) {
        try withTemplate(template) { (attrs, count) throws(PKCS11Error) in
            try check("C_SetAttributeValue", functions.C_SetAttributeValue?(handle, object.handle, attrs, count))
        }
    }

    /// C_CreateObject.
    public func createObject(_ template: [Attribute]) throws(PKCS11Error) -> Object {
        var created: CK_OBJECT_HANDLE = 0
        try withTemplate(template) { (attrs, count) throws(PKCS11Error) in
            try check("C_CreateObject", functions.C_CreateObject?(handle, attrs, count, &created))
        }
        return Object(session: self, handle: created)
    }

    /// C_DestroyObject.
    public func destroy(_ object: Object) throws(PKCS11Error) {
        try check("C_DestroyObject", functions.C_DestroyObject?(handle, object.handle))
    }

    // MARK: Keys

    /// C_GenerateKeyPair: returns (public, private).
    public func generateKeyPair(_ mechanism: Mechanism, publicTemplate: [Attribute], privateTemplate: [Attribute])
        throws(PKCS11Error) -> (publicKey: Object, privateKey: Object)
    {
        var pub: CK_OBJECT_HANDLE = 0
        var priv: CK_OBJECT_HANDLE = 0
        try withMechanism(mechanism) { (mech) throws(PKCS11Error) in
            try withTemplate(publicTemplate) { (pubAttrs, pubCount) throws(PKCS11Error) in
                try withTemplate(privateTemplate) { (privAttrs, privCount) throws(PKCS11Error) in
                    try check(
                        "C_GenerateKeyPair",
                        functions.C_GenerateKeyPair?(
                            handle, mech, pubAttrs, pubCount, privAttrs, privCount, &pub, &priv))
                }
            }
        }
        return (Object(session: self, handle: pub), Object(session: self, handle: priv))
    }

    /// C_GenerateKey (a secret key, e.g. a one-time AES wrapping key).
    public func generateKey(_ mechanism: Mechanism, template: [Attribute]) throws(PKCS11Error) -> Object {
        var key: CK_OBJECT_HANDLE = 0
        try withMechanism(mechanism) { (mech) throws(PKCS11Error) in
            try withTemplate(template) { (attrs, count) throws(PKCS11Error) in
                try check("C_GenerateKey", functions.C_GenerateKey?(handle, mech, attrs, count, &key))
            }
        }
        return Object(session: self, handle: key)
    }

    /// C_WrapKey: `key` encrypted under `wrappingKey`.
    public func wrapKey(_ mechanism: Mechanism, wrappingKey: Object, key: Object) throws(PKCS11Error) -> [UInt8] {
        try withMechanism(mechanism) { (mech) throws(PKCS11Error) in
            try twoPass("C_WrapKey") { out, length in
                functions.C_WrapKey?(handle, mech, wrappingKey.handle, key.handle, out, length)
            }
        }
    }

    /// C_UnwrapKey: creates a key object from wrapped bytes.
    public func unwrapKey(_ mechanism: Mechanism, unwrappingKey: Object, wrapped: [UInt8], template: [Attribute])
        throws(PKCS11Error) -> Object
    {
        var key: CK_OBJECT_HANDLE = 0
        var wrapped = wrapped
        try withMechanism(mechanism) { (mech) throws(PKCS11Error) in
            try withTemplate(template) { (attrs, count) throws(PKCS11Error) in
                try check(
                    "C_UnwrapKey",
                    functions.C_UnwrapKey?(
                        handle, mech, unwrappingKey.handle, &wrapped, CK_ULONG(wrapped.count), attrs, count, &key))
            }
        }
        return Object(session: self, handle: key)
    }

    // MARK: Signing

    /// C_SignInit.
    public func signInit(_ mechanism: Mechanism, key: Object) throws(PKCS11Error) {
        try withMechanism(mechanism) { (mech) throws(PKCS11Error) in
            try check("C_SignInit", functions.C_SignInit?(handle, mech, key.handle))
        }
    }

    /// C_Sign after C_SignInit. Asks for the length first only when a guess is too small.
    public func sign(_ data: [UInt8], expectedLength: Int = 512) throws(PKCS11Error) -> [UInt8] {
        var data = data
        var signature = [UInt8](repeating: 0, count: expectedLength)
        var length = CK_ULONG(expectedLength)
        let rv = functions.C_Sign?(handle, &data, CK_ULONG(data.count), &signature, &length)
        if rv == ReturnValue.bufferTooSmall.rawValue {
            signature = [UInt8](repeating: 0, count: Int(length))
            try check("C_Sign", functions.C_Sign?(handle, &data, CK_ULONG(data.count), &signature, &length))
        } else {
            try check("C_Sign", rv)
        }
        signature.removeLast(signature.count - Int(length))
        return signature
    }

    /// C_VerifyInit + C_Verify. False for CKR_SIGNATURE_INVALID / CKR_SIGNATURE_LEN_RANGE.
    public func verify(_ mechanism: Mechanism, key: Object, data: [UInt8], signature: [UInt8]) throws(PKCS11Error)
        -> Bool
    {
        try withMechanism(mechanism) { (mech) throws(PKCS11Error) in
            try check("C_VerifyInit", functions.C_VerifyInit?(handle, mech, key.handle))
        }
        var data = data
        var signature = signature
        let rv = functions.C_Verify?(handle, &data, CK_ULONG(data.count), &signature, CK_ULONG(signature.count))
        if rv == ReturnValue.signatureInvalid.rawValue || rv == ReturnValue.signatureLenRange.rawValue { return false }
        try check("C_Verify", rv)
        return true
    }

    /// C_GenerateRandom.
    public func generateRandom(count: Int) throws(PKCS11Error) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try check("C_GenerateRandom", functions.C_GenerateRandom?(handle, &bytes, CK_ULONG(count)))
        return bytes
    }

    // MARK: C plumbing

    /// Calls a function that writes a variable-length output: length first, then the bytes.
    private func twoPass(
        _ name: StaticString, _ call: (UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<CK_ULONG>) -> CK_RV?
    ) throws(PKCS11Error) -> [UInt8] {
        var length: CK_ULONG = 0
        try check(name, call(nil, &length))
        var out = [UInt8](repeating: 0, count: Int(length))
        try check(name, out.withUnsafeMutableBufferPointer { call($0.baseAddress, &length) })
        out.removeLast(out.count - Int(length))
        return out
    }
}

/// The state of a session (CKS_*).
public struct SessionState: RawRepresentable, Hashable, Sendable {
    /// The CKS_* value.
    public let rawValue: UInt
    /// Any CKS_* value.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// True when the user is logged in.
    public var isUserLoggedIn: Bool { self == .readOnlyUser || self == .readWriteUser }
}

/// Lends a template as a CK_ATTRIBUTE array. The values are copied into one buffer that is
/// wiped afterwards, since templates may carry key material.
func withTemplate<R>(
    _ template: [Attribute], _ body: (UnsafeMutablePointer<CK_ATTRIBUTE>?, CK_ULONG) throws(PKCS11Error) -> R
) throws(PKCS11Error) -> R {
    let arena = Arena(lengths: template.map(\.value.count))
    defer { arena.release() }
    var attrs = template.enumerated().map { n, attribute in
        let slot = arena.slot(n)
        slot.copyBytes(from: attribute.value)
        return CK_ATTRIBUTE(type: attribute.type.rawValue, pValue: slot.baseAddress, ulValueLen: CK_ULONG(slot.count))
    }
    return try body(&attrs, CK_ULONG(attrs.count))
}

/// One allocation holding several attribute values back to back; wiped on release.
struct Arena {
    private let storage: UnsafeMutableRawBufferPointer
    private let offsets: [Int]
    private let lengths: [Int]

    init(lengths: [Int]) {
        var offsets: [Int] = []
        var total = 0
        for length in lengths {
            offsets.append(total)
            total += length
        }
        self.offsets = offsets
        self.lengths = lengths
        storage = .allocate(byteCount: max(total, 1), alignment: MemoryLayout<UInt>.alignment)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    /// The bytes of value `n`; an empty buffer has a nil base address, as C expects.
    func slot(_ n: Int) -> UnsafeMutableRawBufferPointer {
        guard lengths[n] > 0 else { return UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        return UnsafeMutableRawBufferPointer(rebasing: storage[offsets[n]..<(offsets[n] + lengths[n])])
    }

    func release() {
        cb_wipe(storage.baseAddress, storage.count)
        storage.deallocate()
    }
}

/// Lends a mechanism as a CK_MECHANISM.
func withMechanism<R>(_ mechanism: Mechanism, _ body: (UnsafeMutablePointer<CK_MECHANISM>) throws(PKCS11Error) -> R)
    throws(PKCS11Error) -> R
{
    var parameter = mechanism.parameter
    let result: Result<R, PKCS11Error> = parameter.withUnsafeMutableBytes { raw in
        var mech = CK_MECHANISM(
            mechanism: mechanism.type.rawValue,
            pParameter: raw.count == 0 ? nil : raw.baseAddress,
            ulParameterLen: CK_ULONG(raw.count))
        do throws(PKCS11Error) { return .success(try body(&mech)) } catch { return .failure(error) }
    }
    return try result.get()
}
