internal import CPKCS11
import CSoftTokenCrypto

/// Where a call puts variable-length output, by PKCS#11's two-call convention: no buffer asks
/// for the length; a short buffer gets CKR_BUFFER_TOO_SMALL and the operation stays.
struct Output {
    let buffer: UnsafeMutablePointer<CK_BYTE>?
    let length: UnsafeMutablePointer<CK_ULONG>

    /// Whether there is room for `size` bytes; sets the length and throws when there is not.
    func hasRoom(for size: Int) throws(CKRError) -> Bool {
        guard buffer != nil else {
            length.pointee = CK_ULONG(size)
            return false
        }
        guard length.pointee >= CK_ULONG(size) else {
            length.pointee = CK_ULONG(size)
            throw CKRError(CKR.bufferTooSmall)
        }
        return true
    }

    func write(_ bytes: [UInt8]) { write(bytes, count: bytes.count) }

    /// The first `count` bytes of `bytes` (a signature in a buffer of the longest size).
    func write(_ bytes: [UInt8], count: Int) {
        if let buffer, count > 0 {
            bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: count) }
        }
        length.pointee = CK_ULONG(count)
    }
}

extension Provider {
    // MARK: - Sign, verify, decrypt

    func signInit(_ session: Session, mechanism: CK_MECHANISM, key: CK_OBJECT_HANDLE) throws(CKRError) {
        guard session.sign == nil else { throw CKRError(CKR.operationActive) }
        if let mac = MacScheme.parse(mechanism) {
            session.sign = try macInit(session, mechanism, mac, key, permission: CKA.sign)
            return
        }
        let scheme = try SignatureScheme.parse(mechanism)
        session.sign = try shared { () throws(CKRError) in
            let object = try usableKey(session, key, class: CKO.privateKey, type: scheme.keyType, permission: CKA.sign)
            let operation = try beginKeyOperation(mechanism, scheme: scheme, key: object)
            // The key taken now, under the lock this call holds anyway, so that C_Sign needs the
            // shared lock for nothing; a key that needs its context login is opened by that.
            if !operation.needsContextLogin { operation.preparedKey = try? self.key(of: object) }
            return operation
        }
    }

    /// An HMAC or CMAC operation with a secret key.
    private func macInit(
        _ session: Session, _ mechanism: CK_MECHANISM, _ scheme: MacScheme, _ key: CK_OBJECT_HANDLE,
        permission: CK_ATTRIBUTE_TYPE
    ) throws(CKRError) -> KeyOperation {
        try shared { () throws(CKRError) in
            let object = try usableKey(session, key, class: CKO.secretKey, type: nil, permission: permission)
            guard scheme.accepts(object.keyType) else { throw CKRError(CKR.keyTypeInconsistent) }
            guard var material = object.attributes[CKA.material] else { throw CKRError(CKR.keyFunctionNotPermitted) }
            defer { wipe(&material) }
            let operation = try beginKeyOperation(mechanism, key: object)
            operation.mac = try MacOperation(scheme: scheme, key: material)
            return operation
        }
    }

    /// A sign, decrypt or other private/secret-key operation on `object` (shared lock held):
    /// the one place that marks an operation as needing a context login (requireContextLogin).
    func beginKeyOperation(
        _ mechanism: CK_MECHANISM, scheme: SignatureScheme? = nil, decryption: Decryption? = nil,
        key object: TokenObject
    ) throws(CKRError) -> KeyOperation {
        try checkAllowed(mechanism.mechanism, for: object)
        return KeyOperation(
            mechanism: mechanism.mechanism, scheme: scheme, decryption: decryption, key: object,
            needsContextLogin: object.flag(CKA.alwaysAuthenticate), outputSize: try signatureSize(object))
    }

    /// CKA_ALLOWED_MECHANISMS, where the key has it: a mechanism not in the list is
    /// CKR_MECHANISM_INVALID (as SoftHSM2 answers).
    func checkAllowed(_ mechanism: CK_MECHANISM_TYPE, for object: TokenObject) throws(CKRError) {
        guard let list = object.attributes[CKA.allowedMechanisms] else { return }
        let size = MemoryLayout<CK_ULONG>.size
        let allowed = stride(from: 0, to: list.count - list.count % size, by: size).map { start in
            list[start..<start + size].withUnsafeBytes { $0.loadUnaligned(as: CK_ULONG.self) }
        }
        guard allowed.contains(mechanism) else { throw CKRError(CKR.mechanismInvalid) }
    }

    /// The key of an operation that passed the always-authenticate gate; the session's lock
    /// is held, the shared lock only while the key is looked up.
    func authorizedKey(_ session: Session, _ operation: KeyOperation) throws(CKRError) -> CryptoKey {
        try requireContextLogin(session, operation)
        if let key = operation.approvedKey ?? operation.preparedKey { return key }
        return try shared { () throws(CKRError) in try operationKey(operation) }
    }

    func sign(_ session: Session, data: UnsafeRawBufferPointer?, output: Output, final: Bool) throws(CKRError) {
        guard let operation = session.sign else { throw CKRError(CKR.operationNotInitialized) }
        if let mac = operation.mac {
            guard try output.hasRoom(for: mac.size) else { return }
            defer { session.sign = nil }
            try requireContextLogin(session, operation)
            if !final, let data { try mac.update(data) }
            output.write(try mac.finish())
            return
        }
        guard try output.hasRoom(for: operation.outputSize) else { return }
        defer { session.sign = nil }
        let key = try authorizedKey(session, operation)
        let scheme = operation.scheme!
        var signature = [UInt8](repeating: 0, count: key.signatureSize)
        let length =
            final
            ? operation.data.withUnsafeBufferPointer { sign(key, scheme, $0.baseAddress, $0.count, &signature) }
            : sign(key, scheme, data?.baseAddress?.assumingMemoryBound(to: UInt8.self), data?.count ?? 0, &signature)
        guard length > 0 else { throw CKRError(scheme.digest == nil ? CKR.dataLenRange : CKR.functionFailed) }
        output.write(signature, count: length)
    }

    /// One signature: the message hashed here when the mechanism hashes (and wrapped in a
    /// DigestInfo for PKCS#1 v1.5), then signed raw with the key's reused context.
    private func sign(
        _ key: CryptoKey, _ scheme: SignatureScheme, _ bytes: UnsafePointer<UInt8>?, _ count: Int, _ out: inout [UInt8]
    ) -> Int {
        guard let digest = scheme.digest else {
            return key.signRaw(scheme, UnsafeBufferPointer(start: bytes, count: count), into: &out)
        }
        var prepared = [UInt8](repeating: 0, count: 19 + 64)
        var start = 19
        if scheme.padding == 1 {
            var prefix: UnsafePointer<UInt8>?
            let length = cbst_digest_info_prefix(digest, &prefix)
            guard length > 0, let prefix else { return -1 }
            start = 19 - length
            for i in 0..<length { prepared[start + i] = prefix[i] }
        }
        let hashLength = prepared.withUnsafeMutableBufferPointer { buffer in
            cbst_digest_cached(digest, bytes, count, buffer.baseAddress! + 19)
        }
        guard hashLength > 0 else { return -1 }
        return prepared.withUnsafeBufferPointer { buffer in
            key.signRaw(scheme, UnsafeBufferPointer(rebasing: buffer[start..<19 + hashLength]), into: &out)
        }
    }

    func update(_ operation: KeyOperation?, _ data: UnsafeRawBufferPointer) throws(CKRError) {
        guard let operation else { throw CKRError(CKR.operationNotInitialized) }
        if let mac = operation.mac { return try mac.update(data) }
        operation.data.append(contentsOf: data)
    }

    func verifyInit(_ session: Session, mechanism: CK_MECHANISM, key: CK_OBJECT_HANDLE) throws(CKRError) {
        guard session.verify == nil else { throw CKRError(CKR.operationActive) }
        if let mac = MacScheme.parse(mechanism) {
            session.verify = try macInit(session, mechanism, mac, key, permission: CKA.verify)
            return
        }
        let scheme = try SignatureScheme.parse(mechanism)
        session.verify = try shared { () throws(CKRError) in
            guard let object = session.token.object(key) else { throw CKRError(CKR.keyHandleInvalid) }
            guard object.objectClass == CKO.publicKey || object.objectClass == CKO.privateKey,
                object.keyType == scheme.keyType
            else { throw CKRError(CKR.keyTypeInconsistent) }
            if object.objectClass == CKO.publicKey && !object.flag(CKA.verify) {
                throw CKRError(CKR.keyFunctionNotPermitted)
            }
            try checkAllowed(mechanism.mechanism, for: object)
            let operation = KeyOperation(
                mechanism: mechanism.mechanism, scheme: scheme, key: object, needsContextLogin: false)
            operation.approvedKey = try self.key(of: object)
            return operation
        }
    }

    func verify(_ session: Session, data: [UInt8]?, signature: [UInt8]) throws(CKRError) {
        if let operation = session.verify, let mac = operation.mac {
            defer { session.verify = nil }
            try requireContextLogin(session, operation)
            if let data {
                let ok = data.withUnsafeBytes { bytes in (try? mac.update(bytes)) != nil }
                guard ok else { throw CKRError(CKR.functionFailed) }
            }
            let expected = try mac.finish()
            guard signature.count == expected.count else { throw CKRError(CKR.signatureLenRange) }
            guard cbst_equal(expected, signature, expected.count) == 1 else { throw CKRError(CKR.signatureInvalid) }
            return
        }
        guard let operation = session.verify, let key = operation.approvedKey else {
            throw CKRError(CKR.operationNotInitialized)
        }
        defer { session.verify = nil }
        let scheme = operation.scheme!
        let message = data ?? operation.data
        if (key.isRSA || key.isEdwards) && signature.count != key.signatureSize {
            throw CKRError(CKR.signatureLenRange)
        }
        let valid =
            key.isEdwards
            ? key.verifyEdDSA(message, signature)
            : cbst_verify(
                key.pointer, scheme.padding, scheme.digest, scheme.pssDigest, scheme.mgf, scheme.saltLength,
                message, message.count, signature, signature.count)
        guard valid == 1 else { throw CKRError(CKR.signatureInvalid) }
    }

    /// A key object the session may use for an operation: visible, of the right class and type,
    /// with the permission attribute set.
    func usableKey(
        _ session: Session, _ handle: CK_OBJECT_HANDLE, class objectClass: CK_OBJECT_CLASS,
        type: CK_KEY_TYPE?, permission: CK_ATTRIBUTE_TYPE
    ) throws(CKRError) -> TokenObject {
        guard let object = session.token.object(handle) else {
            throw CKRError(session.token.loggedIn == CKU.user ? CKR.keyHandleInvalid : CKR.userNotLoggedIn)
        }
        guard object.objectClass == objectClass, type == nil || object.keyType == type else {
            throw CKRError(CKR.keyTypeInconsistent)
        }
        guard object.flag(permission) else { throw CKRError(CKR.keyFunctionNotPermitted) }
        return object
    }

    /// Signature (or RSA block) size from the public attributes, known before the key is opened.
    func signatureSize(_ object: TokenObject) throws(CKRError) -> Int {
        if object.objectClass == CKO.secretKey { return 0 }
        if let modulus = object.attributes[CKA.modulus] { return modulus.count - (modulus.first == 0 ? 1 : 0) }
        if object.keyType == CKK.ecEdwards {
            guard let curve = object.attributes[CKA.ecParams].flatMap(EdwardsCurve.init(params:)) else {
                throw CKRError(CKR.keyTypeInconsistent)
            }
            return curve.signatureLength
        }
        switch object.attributes[CKA.ecParams].flatMap(Curve.nid(params:)) {
        case 415: return 64
        case 715: return 96
        case 716: return 132
        default: throw CKRError(CKR.keyTypeInconsistent)
        }
    }

    /// The key an operation uses: the one its context login opened, else the object's own.
    func operationKey(_ operation: KeyOperation) throws(CKRError) -> CryptoKey {
        if let approved = operation.approvedKey { return approved }
        return try key(of: operation.key)
    }

    // MARK: - Digest

    func digestInit(_ session: Session, mechanism: CK_MECHANISM) throws(CKRError) {
        guard session.digest == nil else { throw CKRError(CKR.operationActive) }
        guard let name = Mechanisms.digestName(mechanism.mechanism) else { throw CKRError(CKR.mechanismInvalid) }
        let sizes = ["SHA1": 20, "SHA224": 28, "SHA256": 32, "SHA384": 48, "SHA512": 64]
        session.digest = try DigestOperation(name: name, size: sizes[name]!)
    }

    func digest(_ session: Session, data: UnsafeRawBufferPointer?, output: Output) throws(CKRError) {
        guard let operation = session.digest else { throw CKRError(CKR.operationNotInitialized) }
        guard try output.hasRoom(for: operation.size) else { return }
        defer { session.digest = nil }
        if let data { try operation.update(data) }
        output.write(try operation.finish())
    }

    func digestUpdate(_ session: Session, data: UnsafeRawBufferPointer) throws(CKRError) {
        guard let operation = session.digest else { throw CKRError(CKR.operationNotInitialized) }
        do { try operation.update(data) } catch {
            session.digest = nil
            throw error
        }
    }

    // MARK: - Keys

    func generateKeyPair(
        _ handle: CK_SESSION_HANDLE, mechanism: CK_MECHANISM, publicTemplate: Template,
        privateTemplate: Template
    ) throws(CKRError) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
        let session = try session(handle)
        var publicTemplate = publicTemplate
        var privateTemplate = privateTemplate
        defer { privateTemplate.wipeAll() }
        let key: CryptoKey
        switch mechanism.mechanism {
        case CKM.rsaKeyPairGen:
            guard let bits = publicTemplate.ulong(CKA.modulusBits) else { throw CKRError(CKR.templateIncomplete) }
            guard (1024...4096).contains(bits), bits % 8 == 0 else { throw CKRError(CKR.keySizeRange) }
            let exponent = publicTemplate[CKA.publicExponent] ?? []
            guard let made = CryptoKey(cbst_generate_rsa(UInt32(bits), exponent, exponent.count)) else {
                throw CKRError(CKR.functionFailed)
            }
            key = made
            publicTemplate[CKA.keyType] = [UInt8](ulong: CKK.rsa)
            privateTemplate[CKA.keyType] = [UInt8](ulong: CKK.rsa)
        case CKM.ecKeyPairGen:
            guard let params = publicTemplate[CKA.ecParams] else { throw CKRError(CKR.templateIncomplete) }
            guard let nid = Curve.nid(params: params) else { throw CKRError(CKR.curveNotSupported) }
            guard let made = CryptoKey(cbst_generate_ec(nid)) else { throw CKRError(CKR.functionFailed) }
            key = made
            publicTemplate[CKA.keyType] = [UInt8](ulong: CKK.ec)
            privateTemplate[CKA.keyType] = [UInt8](ulong: CKK.ec)
        case CKM.ecEdwardsKeyPairGen:
            key = try generateEdwards(publicTemplate: &publicTemplate, privateTemplate: &privateTemplate)
        default:
            throw CKRError(CKR.mechanismInvalid)
        }
        publicTemplate[CKA.class] = [UInt8](ulong: CKO.publicKey)
        privateTemplate[CKA.class] = [UInt8](ulong: CKO.privateKey)
        publicTemplate[CKA.modulusBits] = nil
        let origin = Origin.generated(mechanism.mechanism)
        let publicKey = try makeObject(session, template: &publicTemplate, origin: origin, key: key)
        let privateKey = try makeObject(session, template: &privateTemplate, origin: origin, key: key)
        try session.token.store(publicKey)
        do {
            try session.token.store(privateKey)
        } catch {
            try? session.token.destroy(publicKey)
            throw error
        }
        auditKey(session, privateKey, "generate (C_GenerateKeyPair)")
        return (publicKey.handle, privateKey.handle)
    }

    func generateKey(_ handle: CK_SESSION_HANDLE, mechanism: CK_MECHANISM, template: Template) throws(CKRError)
        -> CK_OBJECT_HANDLE
    {
        let session = try session(handle)
        let aes = mechanism.mechanism == CKM.aesKeyGen
        guard aes || mechanism.mechanism == CKM.genericSecretKeyGen else { throw CKRError(CKR.mechanismInvalid) }
        var template = template
        defer { template.wipeAll() }
        guard let length = template.ulong(CKA.valueLen) else { throw CKRError(CKR.templateIncomplete) }
        guard aes ? [16, 24, 32].contains(length) : (1...512).contains(length) else { throw CKRError(CKR.keySizeRange) }
        template[CKA.valueLen] = nil
        template[CKA.class] = [UInt8](ulong: CKO.secretKey)
        template[CKA.keyType] = [UInt8](ulong: aes ? CKK.aes : CKK.genericSecret)
        template[CKA.value] = try randomBytes(Int(length))
        let object = try makeObject(session, template: &template, origin: .generated(mechanism.mechanism))
        try session.token.store(object)
        return object.handle
    }
}
