/// An object on a token, as seen through one session (its handle is only valid there).
public struct Object {
    /// The session the handle belongs to; keeps it open.
    public let session: Session
    /// The CK_OBJECT_HANDLE, valid in this session.
    public let handle: UInt

    /// Reads attributes; see `Session.attributes(_:of:)`.
    public func attributes(_ types: [AttributeType]) throws(PKCS11Error) -> AttributeValues {
        try session.attributes(types, of: self)
    }

    /// C_DestroyObject.
    public func destroy() throws(PKCS11Error) { try session.destroy(self) }
}
