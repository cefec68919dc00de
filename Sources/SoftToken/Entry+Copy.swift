public import CPKCS11

/// The C ABI of C_CopyObject (see SoftTokenEntry).
extension SoftTokenEntry {
    /// C_CopyObject.
    public static func copyObject(
        _ session: CK_SESSION_HANDLE, _ object: CK_OBJECT_HANDLE, _ template: UnsafeMutablePointer<CK_ATTRIBUTE>?,
        _ count: CK_ULONG, _ newObject: UnsafeMutablePointer<CK_OBJECT_HANDLE>?
    ) -> CK_RV {
        SoftTokenProvider.call { provider throws(CKRError) in
            guard let newObject else { throw CKRError(CKR.argumentsBad) }
            var copied = try Template(template, count: count)
            defer { copied.wipeAll() }
            newObject.pointee = try provider.copyObject(session, object: object, template: copied)
        }
    }
}
