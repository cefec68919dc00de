public import CPKCS11

/// The C ABI of multi-part decryption and of encryption (see SoftTokenEntry).
extension SoftTokenEntry {
    /// C_DecryptUpdate.
    public static func decryptUpdate(
        _ session: CK_SESSION_HANDLE, _ data: Bytes, _ length: CK_ULONG, _ out: Bytes, _ outLength: Length
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.crypt(
                session, encrypting: false, input: try raw(data, length), output: try output(out, outLength),
                part: .update)
        }
    }

    /// C_DecryptFinal.
    public static func decryptFinal(_ session: CK_SESSION_HANDLE, _ out: Bytes, _ outLength: Length) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.crypt(
                session, encrypting: false, input: UnsafeRawBufferPointer(start: nil, count: 0),
                output: try output(out, outLength), part: .final)
        }
    }

    /// C_EncryptInit.
    public static func encryptInit(
        _ session: CK_SESSION_HANDLE, _ mechanism: UnsafeMutablePointer<CK_MECHANISM>?, _ key: CK_OBJECT_HANDLE
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.encryptInit(session, mechanism: try self.mechanism(mechanism), key: key)
        }
    }

    /// C_Encrypt.
    public static func encrypt(
        _ session: CK_SESSION_HANDLE, _ data: Bytes, _ length: CK_ULONG, _ out: Bytes, _ outLength: Length
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.crypt(
                session, encrypting: true, input: try raw(data, length), output: try output(out, outLength),
                part: .single)
        }
    }

    /// C_EncryptUpdate.
    public static func encryptUpdate(
        _ session: CK_SESSION_HANDLE, _ data: Bytes, _ length: CK_ULONG, _ out: Bytes, _ outLength: Length
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.crypt(
                session, encrypting: true, input: try raw(data, length), output: try output(out, outLength),
                part: .update)
        }
    }

    /// C_EncryptFinal.
    public static func encryptFinal(_ session: CK_SESSION_HANDLE, _ out: Bytes, _ outLength: Length) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.crypt(
                session, encrypting: true, input: UnsafeRawBufferPointer(start: nil, count: 0),
                output: try output(out, outLength), part: .final)
        }
    }
}

extension SoftTokenEntry {
    /// C_DigestKey.
    public static func digestKey(_ session: CK_SESSION_HANDLE, _ key: CK_OBJECT_HANDLE) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            try provider.digestKey(session, key: key)
        }
    }
}
