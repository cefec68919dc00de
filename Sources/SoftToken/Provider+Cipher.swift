internal import CPKCS11
import CSoftTokenCrypto

/// Which call of an encryption or decryption this is.
enum CipherPart {
    case single, update, final
}

extension Provider {
    // MARK: - Encrypt, decrypt

    func encryptInit(_ session: Session, mechanism: CK_MECHANISM, key: CK_OBJECT_HANDLE) throws(CKRError) {
        guard session.encrypt == nil else { throw CKRError(CKR.operationActive) }
        session.encrypt = try cipherInit(session, mechanism, key, encrypting: true)
    }

    func decryptInit(_ session: Session, mechanism: CK_MECHANISM, key: CK_OBJECT_HANDLE) throws(CKRError) {
        guard session.decrypt == nil else { throw CKRError(CKR.operationActive) }
        session.decrypt = try cipherInit(session, mechanism, key, encrypting: false)
    }

    /// An AES operation with a secret key, an RSA encryption with a public key, or an RSA
    /// decryption with a private key.
    private func cipherInit(
        _ session: Session, _ mechanism: CK_MECHANISM, _ key: CK_OBJECT_HANDLE,
        encrypting: Bool
    ) throws(CKRError) -> KeyOperation {
        let permission = encrypting ? CKA.encrypt : CKA.decrypt
        if SymmetricScheme.isSymmetric(mechanism.mechanism) {
            let scheme = try SymmetricScheme.parse(mechanism)
            return try shared { () throws(CKRError) in
                let object = try usableKey(session, key, class: CKO.secretKey, type: CKK.aes, permission: permission)
                guard var material = object.attributes[CKA.material] else {
                    throw CKRError(CKR.keyFunctionNotPermitted)
                }
                defer { wipe(&material) }
                let operation = try beginKeyOperation(mechanism, key: object)
                operation.cipher = try CipherOperation(scheme: scheme, encrypting: encrypting, key: material)
                return operation
            }
        }
        let rsa = try Decryption.parse(mechanism)
        return try shared { () throws(CKRError) in
            guard encrypting else {
                let object = try usableKey(session, key, class: CKO.privateKey, type: CKK.rsa, permission: permission)
                return try beginKeyOperation(mechanism, decryption: rsa, key: object)
            }
            guard let object = session.token.object(key) else { throw CKRError(CKR.keyHandleInvalid) }
            guard object.objectClass == CKO.publicKey, object.keyType == CKK.rsa else {
                throw CKRError(CKR.keyTypeInconsistent)
            }
            guard object.flag(permission) else { throw CKRError(CKR.keyFunctionNotPermitted) }
            try checkAllowed(mechanism.mechanism, for: object)
            let operation = KeyOperation(
                mechanism: mechanism.mechanism, scheme: nil, decryption: rsa, key: object,
                needsContextLogin: false, outputSize: try signatureSize(object))
            operation.approvedKey = try self.key(of: object)
            return operation
        }
    }

    /// C_Encrypt/C_Decrypt (single), *Update and *Final. The output goes out by the two-call
    /// rule, computed exactly: a buffer as long as the actual output is enough. A length query
    /// or a short buffer leaves the operation as it was; any other end or error ends it.
    func crypt(_ session: Session, encrypting: Bool, input: UnsafeRawBufferPointer, output: Output, part: CipherPart)
        throws(CKRError)
    {
        guard let operation = encrypting ? session.encrypt : session.decrypt else {
            throw CKRError(CKR.operationNotInitialized)
        }
        var finished = false
        defer {
            if finished {
                if encrypting { session.encrypt = nil } else { session.decrypt = nil }
            }
        }
        do throws(CKRError) {
            if let cipher = operation.cipher {
                try requireContextLogin(session, operation)
                if part == .update, let size = cipher.exactUpdateSize(input.count) {
                    guard try output.hasRoom(for: size), let buffer = output.buffer else { return }
                    output.length.pointee = CK_ULONG(try cipher.update(input, into: buffer))
                    return
                }
                try cipher.step(input, final: part != .update) { bytes throws(CKRError) in
                    guard try output.hasRoom(for: bytes.count) else { return false }
                    output.write(bytes)
                    finished = part != .update
                    return true
                }
                return
            }
            guard part == .single, let rsa = operation.decryption else { throw CKRError(CKR.mechanismInvalid) }
            // An RSA length query needs neither the key nor an approval.
            guard output.buffer != nil else {
                output.length.pointee = CK_ULONG(operation.outputSize)
                return
            }
            if !encrypting && input.count != operation.outputSize { throw CKRError(CKR.encryptedDataLenRange) }
            let key = try authorizedKey(session, operation)
            var out = [UInt8](repeating: 0, count: operation.outputSize + 16)
            defer { wipe(&out) }
            let bytes = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
            let length =
                encrypting
                ? cbst_rsa_encrypt(
                    key.pointer, rsa.padding, rsa.oaepDigest, rsa.mgf, rsa.label, rsa.label.count, bytes, input.count,
                    &out, out.count)
                : cbst_rsa_decrypt(
                    key.pointer, rsa.padding, rsa.oaepDigest, rsa.mgf, rsa.label, rsa.label.count, bytes, input.count,
                    &out, out.count)
            guard length >= 0 else { throw CKRError(encrypting ? CKR.dataLenRange : CKR.encryptedDataInvalid) }
            guard try output.hasRoom(for: length) else { return }
            output.write(Array(out[0..<length]))
            finished = true
        } catch  where error.rv == CKR.bufferTooSmall {
            throw error
        } catch {
            finished = true
            throw error
        }
    }
}

extension Provider {
    /// C_DigestKey: a secret key's value into the digest under way (it never leaves the token).
    func digestKey(_ session: Session, key: CK_OBJECT_HANDLE) throws(CKRError) {
        guard let operation = session.digest else { throw CKRError(CKR.operationNotInitialized) }
        var material = try shared { () throws(CKRError) -> [UInt8] in
            guard let object = session.token.object(key) else { throw CKRError(CKR.keyHandleInvalid) }
            guard object.objectClass == CKO.secretKey, let value = object.attributes[CKA.material] else {
                throw CKRError(CKR.keyIndigestible)
            }
            return value
        }
        defer { wipe(&material) }
        do {
            try material.withUnsafeBytes { bytes in try operation.update(bytes) }
        } catch {
            session.digest = nil
            throw CKRError(CKR.functionFailed)
        }
    }
}
