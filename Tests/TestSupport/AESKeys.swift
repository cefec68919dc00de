import PKCS11

extension Session {
    /// A session AES key of `bytes` bytes generated on the token (C_GenerateKey with
    /// CKM_AES_KEY_GEN), with `attributes` added to CKA_VALUE_LEN and CKA_TOKEN=FALSE.
    public func generateAESKey(bytes: UInt, adding attributes: [Attribute] = []) throws(PKCS11Error) -> Object {
        try generateKey(
            Mechanism(.aesKeyGen),
            template: [Attribute(.valueLen, ulong: bytes), Attribute(.token, false)] + attributes)
    }
}
