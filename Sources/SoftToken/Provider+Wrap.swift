internal import CPKCS11
import CSoftTokenCrypto

extension CKA {
    /// The attributes whose value is an array of CK_ATTRIBUTE, kept as an encoded AttributeMap:
    /// CKA_WRAP_TEMPLATE (what a key must match to be wrapped with this key), CKA_UNWRAP_TEMPLATE
    /// and CKA_DERIVE_TEMPLATE (what every key unwrapped or derived with this key gets).
    static let attributeArrays: Set<CK_ATTRIBUTE_TYPE> = [wrapTemplate, unwrapTemplate, deriveTemplate]
}

/// A C_WrapKey / C_UnwrapKey mechanism with its parameters taken apart.
enum WrapScheme {
    /// RFC 3394 (CKM_AES_KEY_WRAP) or RFC 5649 (CKM_AES_KEY_WRAP_PAD), with an IV of the caller's or the RFC's.
    case aes(pad: Bool, iv: [UInt8]?)
    /// RSA PKCS#1 v1.5 or OAEP encryption of a secret key's value.
    case rsa(Decryption)

    static func parse(_ mechanism: CK_MECHANISM) throws(CKRError) -> WrapScheme {
        switch mechanism.mechanism {
        case CKM.aesKeyWrap, CKM.aesKeyWrapPad:
            let pad = mechanism.mechanism == CKM.aesKeyWrapPad
            guard mechanism.ulParameterLen > 0 else { return .aes(pad: pad, iv: nil) }
            guard let pointer = mechanism.pParameter, mechanism.ulParameterLen == (pad ? 4 : 8) else {
                throw CKRError(CKR.mechanismParamInvalid)
            }
            return .aes(
                pad: pad, iv: Array(UnsafeRawBufferPointer(start: pointer, count: Int(mechanism.ulParameterLen))))
        case CKM.rsaPKCS, CKM.rsaPKCSOAEP:
            return .rsa(try Decryption.parse(mechanism))
        default:
            throw CKRError(CKR.mechanismInvalid)
        }
    }
}

extension Template {
    /// A CK_ATTRIBUTE array (CKA_WRAP_TEMPLATE and the like) read into an AttributeMap and
    /// encoded: the caller's pointers inside it are not kept.
    static func nested(_ value: UnsafeRawBufferPointer) throws(CKRError) -> [UInt8] {
        let size = MemoryLayout<CK_ATTRIBUTE>.stride
        guard value.count % size == 0, let base = value.baseAddress else { throw CKRError(CKR.attributeValueInvalid) }
        var inner = try Template(
            UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: CK_ATTRIBUTE.self)),
            count: CK_ULONG(value.count / size))
        defer { inner.wipeAll() }
        if inner.keys.contains(where: { CKA.attributeArrays.contains($0) }) {
            throw CKRError(CKR.attributeValueInvalid)
        }
        return inner.encoded()
    }

    /// An encoded CK_ATTRIBUTE array written out by C_GetAttributeValue's rules one level down:
    /// no buffer asks for the array's length; an entry without a buffer gets its value's length.
    static func writeNested(_ encoded: [UInt8], into attribute: inout CK_ATTRIBUTE) throws(CKRError) -> CK_RV {
        let inner = try AttributeMap.decode(encoded).sorted { $0.key < $1.key }
        let size = CK_ULONG(inner.count * MemoryLayout<CK_ATTRIBUTE>.stride)
        guard let destination = attribute.pValue else {
            attribute.ulValueLen = size
            return CKR.ok
        }
        guard attribute.ulValueLen >= size else {
            attribute.ulValueLen = unavailable
            return CKR.bufferTooSmall
        }
        let entries = destination.assumingMemoryBound(to: CK_ATTRIBUTE.self)
        var result = CKR.ok
        for (i, (type, value)) in inner.enumerated() {
            entries[i].type = type
            if let buffer = entries[i].pValue {
                guard entries[i].ulValueLen >= CK_ULONG(value.count) else {
                    entries[i].ulValueLen = unavailable
                    result = CKR.bufferTooSmall
                    continue
                }
                value.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: value.count) }
            }
            entries[i].ulValueLen = CK_ULONG(value.count)
        }
        attribute.ulValueLen = size
        return result
    }
}

extension Provider {
    // MARK: - Wrap and unwrap

    /// C_WrapKey: AES key wrap (RFC 3394 or 5649) of a secret or private key, or RSA PKCS#1 v1.5
    /// or OAEP encryption of a secret key. Only a key with CKA_EXTRACTABLE leaves; one with
    /// CKA_WRAP_WITH_TRUSTED only under a CKA_TRUSTED key; one that does not match the wrapping
    /// key's CKA_WRAP_TEMPLATE not at all. A key sealed under its own password needs that
    /// password (a context login after the first refusal).
    func wrapKey(
        _ handle: CK_SESSION_HANDLE, mechanism: CK_MECHANISM, wrapping: CK_OBJECT_HANDLE, key: CK_OBJECT_HANDLE,
        output: Output
    ) throws(CKRError) {
        let session = try session(handle)
        let scheme = try WrapScheme.parse(mechanism)
        guard let wrapper = session.token.object(wrapping) else { throw CKRError(CKR.wrappingKeyHandleInvalid) }
        switch scheme {
        case .aes:
            guard wrapper.objectClass == CKO.secretKey, wrapper.keyType == CKK.aes else {
                throw CKRError(CKR.wrappingKeyTypeInconsistent)
            }
        case .rsa:
            guard wrapper.objectClass == CKO.publicKey, wrapper.keyType == CKK.rsa else {
                throw CKRError(CKR.wrappingKeyTypeInconsistent)
            }
        }
        guard wrapper.flag(CKA.wrap) else { throw CKRError(CKR.keyFunctionNotPermitted) }
        try checkAllowed(mechanism.mechanism, for: wrapper)
        guard let target = session.token.object(key) else { throw CKRError(CKR.keyHandleInvalid) }
        guard target.objectClass == CKO.secretKey || (target.objectClass == CKO.privateKey && !scheme.isRSA) else {
            throw CKRError(CKR.keyNotWrappable)
        }
        guard target.flag(CKA.extractable) else { throw CKRError(CKR.keyUnextractable) }
        if target.flag(CKA.wrapWithTrusted) && !wrapper.flag(CKA.trusted) { throw CKRError(CKR.keyNotWrappable) }
        if let encoded = wrapper.attributes[CKA.wrapTemplate] {
            for (type, value) in try AttributeMap.decode(encoded) where target.attributes[type] != value {
                throw CKRError(CKR.keyNotWrappable)
            }
        }
        var material: [UInt8]
        if target.hasKeyPassword {
            guard let approved = session.approvedWrap, approved.handle == target.handle else {
                session.pendingWrap = target.handle
                throw CKRError(CKR.userNotLoggedIn)
            }
            material = try approved.key.pkcs8()
        } else {
            guard let stored = target.attributes[CKA.material] else { throw CKRError(CKR.generalError) }
            material = stored
        }
        defer { wipe(&material) }
        let wrapped: [UInt8]
        switch scheme {
        case .aes(let pad, let iv):
            if !pad {
                // RFC 3394 wraps whole blocks: a PKCS#8 key is zero-padded (its DER length ends it
                // again at unwrap), a secret key must be a multiple of 8 bytes.
                if target.objectClass == CKO.privateKey {
                    material += [UInt8](repeating: 0, count: (8 - material.count % 8) % 8)
                } else if material.count % 8 != 0 || material.count < 16 {
                    throw CKRError(CKR.keySizeRange)
                }
            }
            guard try output.hasRoom(for: (material.count + 7) / 8 * 8 + 8) else { return }
            guard var wrapKey = wrapper.attributes[CKA.material] else { throw CKRError(CKR.wrappingKeyHandleInvalid) }
            defer { wipe(&wrapKey) }
            var out = [UInt8](repeating: 0, count: material.count + 24)
            let length = cbst_aes_key_wrap(
                wrapKey, wrapKey.count, pad ? 1 : 0, 0, iv ?? [], iv?.count ?? 0, material, material.count, &out)
            guard length > 0 else { throw CKRError(CKR.functionFailed) }
            wrapped = Array(out[0..<length])
        case .rsa(let rsa):
            let size = try signatureSize(wrapper)
            // PKCS#1 v1.5 takes at most k - 11 bytes, OAEP k - 2·hLen - 2.
            let room = rsa.oaepDigest.map { size - 2 * Mechanisms.digestSize($0) - 2 } ?? size - 11
            guard material.count <= room else { throw CKRError(CKR.keySizeRange) }
            guard try output.hasRoom(for: size) else { return }
            let publicKey = try self.key(of: wrapper)
            var out = [UInt8](repeating: 0, count: size + 16)
            let length = cbst_rsa_encrypt(
                publicKey.pointer, rsa.padding, rsa.oaepDigest, rsa.mgf, rsa.label, rsa.label.count,
                material, material.count, &out, out.count)
            guard length > 0 else { throw CKRError(CKR.functionFailed) }
            wrapped = Array(out[0..<length])
        }
        guard try output.hasRoom(for: wrapped.count) else { return }
        session.approvedWrap = nil
        output.write(wrapped)
        session.token.audit(key: target.auditName, operation: "export (C_WrapKey)", outcome: "done")
    }

    /// C_UnwrapKey: the inverse of wrapKey. The new key gets the unwrapping key's
    /// CKA_UNWRAP_TEMPLATE (a caller's template that says otherwise is CKR_TEMPLATE_INCONSISTENT),
    /// and like any key from outside it is neither ALWAYS_SENSITIVE nor NEVER_EXTRACTABLE.
    func unwrapKey(
        _ handle: CK_SESSION_HANDLE, mechanism: CK_MECHANISM, unwrapping: CK_OBJECT_HANDLE, wrapped: [UInt8],
        template: Template
    ) throws(CKRError) -> CK_OBJECT_HANDLE {
        let session = try session(handle)
        let scheme = try WrapScheme.parse(mechanism)
        guard let unwrapper = session.token.object(unwrapping) else { throw CKRError(CKR.unwrappingKeyHandleInvalid) }
        var plain: [UInt8]
        switch scheme {
        case .aes(let pad, let iv):
            guard unwrapper.objectClass == CKO.secretKey, unwrapper.keyType == CKK.aes else {
                throw CKRError(CKR.unwrappingKeyTypeInconsistent)
            }
            try checkUnwrapper(unwrapper, mechanism)
            guard var unwrapKey = unwrapper.attributes[CKA.material] else {
                throw CKRError(CKR.unwrappingKeyHandleInvalid)
            }
            defer { wipe(&unwrapKey) }
            guard wrapped.count >= (pad ? 16 : 24), wrapped.count % 8 == 0 else {
                throw CKRError(CKR.wrappedKeyLenRange)
            }
            var out = [UInt8](repeating: 0, count: wrapped.count)
            defer { wipe(&out) }
            let length = cbst_aes_key_wrap(
                unwrapKey, unwrapKey.count, pad ? 1 : 0, 1, iv ?? [], iv?.count ?? 0, wrapped, wrapped.count, &out)
            guard length > 0 else { throw CKRError(CKR.wrappedKeyInvalid) }
            plain = Array(out[0..<length])
        case .rsa(let rsa):
            guard unwrapper.objectClass == CKO.privateKey, unwrapper.keyType == CKK.rsa else {
                throw CKRError(CKR.unwrappingKeyTypeInconsistent)
            }
            try checkUnwrapper(unwrapper, mechanism)
            // A High key approves one operation begun with an Init; C_UnwrapKey has none to approve.
            guard !unwrapper.flag(CKA.alwaysAuthenticate) else { throw CKRError(CKR.keyFunctionNotPermitted) }
            let size = try signatureSize(unwrapper)
            guard wrapped.count == size else { throw CKRError(CKR.wrappedKeyLenRange) }
            let privateKey = try self.key(of: unwrapper)
            var out = [UInt8](repeating: 0, count: size + 16)
            defer { wipe(&out) }
            let length = cbst_rsa_decrypt(
                privateKey.pointer, rsa.padding, rsa.oaepDigest, rsa.mgf, rsa.label, rsa.label.count,
                wrapped, wrapped.count, &out, out.count)
            guard length > 0 else { throw CKRError(CKR.wrappedKeyInvalid) }
            plain = Array(out[0..<length])
        }
        defer { wipe(&plain) }
        var template = template
        defer { template.wipeAll() }
        if let encoded = unwrapper.attributes[CKA.unwrapTemplate] {
            for (type, value) in try AttributeMap.decode(encoded) {
                if let given = template[type], given != value { throw CKRError(CKR.templateInconsistent) }
                template[type] = value
            }
        }
        switch template.ulong(CKA.class) {
        case CKO.privateKey:
            guard !scheme.isRSA, let key = CryptoKey.fromPKCS8(Self.derPrefix(plain)) else {
                throw CKRError(CKR.wrappedKeyInvalid)
            }
            let object = try makeObject(session, template: &template, origin: .imported, key: key)
            try session.token.store(object)
            auditKey(session, object, "import (C_UnwrapKey)")
            return object.handle
        case CKO.secretKey:
            if let length = template.ulong(CKA.valueLen) {
                guard length == CK_ULONG(plain.count) else { throw CKRError(CKR.templateInconsistent) }
                template[CKA.valueLen] = nil
            }
            template[CKA.value] = plain
            let object = try makeObject(session, template: &template, origin: .imported)
            try session.token.store(object)
            auditKey(session, object, "import (C_UnwrapKey)")
            return object.handle
        default:
            throw CKRError(CKR.templateIncomplete)
        }
    }

    private func checkUnwrapper(_ unwrapper: TokenObject, _ mechanism: CK_MECHANISM) throws(CKRError) {
        guard unwrapper.flag(CKA.unwrap) else { throw CKRError(CKR.keyFunctionNotPermitted) }
        try checkAllowed(mechanism.mechanism, for: unwrapper)
    }

    /// The DER SEQUENCE at the start of `bytes` (a PKCS#8 key that RFC 3394 zero-padded), or all of it.
    static func derPrefix(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 2, bytes[0] == 0x30 else { return bytes }
        var length = Int(bytes[1])
        var header = 2
        if bytes[1] & 0x80 != 0 {
            let count = Int(bytes[1] & 0x7F)
            guard (1...3).contains(count), bytes.count >= 2 + count else { return bytes }
            length = bytes[2..<2 + count].reduce(0) { $0 << 8 | Int($1) }
            header = 2 + count
        }
        guard header + length <= bytes.count else { return bytes }
        return Array(bytes[0..<header + length])
    }
}

extension WrapScheme {
    var isRSA: Bool {
        if case .rsa = self { return true }
        return false
    }
}

extension Mechanisms {
    /// The output size of an OpenSSL digest name.
    static func digestSize(_ name: String) -> Int {
        ["SHA1": 20, "SHA224": 28, "SHA256": 32, "SHA384": 48, "SHA512": 64][name] ?? 64
    }
}
