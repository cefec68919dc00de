public import CPKCS11

/// The C ABI of key derivation (see SoftTokenEntry).
extension SoftTokenEntry {
    /// C_DeriveKey: a call on the session (its lock held), since an always-authenticate base key
    /// may need the person's approval before it is used.
    public static func deriveKey(
        _ session: CK_SESSION_HANDLE, _ mechanism: UnsafeMutablePointer<CK_MECHANISM>?, _ base: CK_OBJECT_HANDLE,
        _ template: UnsafeMutablePointer<CK_ATTRIBUTE>?, _ count: CK_ULONG,
        _ key: UnsafeMutablePointer<CK_OBJECT_HANDLE>?
    ) -> CK_RV {
        SoftTokenProvider.call(session: session) { provider, session throws(CKRError) in
            guard let key else { throw CKRError(CKR.argumentsBad) }
            key.pointee = try provider.deriveKey(
                session, mechanism: try self.mechanism(mechanism), base: base,
                template: try Template(template, count: count))
        }
    }
}
