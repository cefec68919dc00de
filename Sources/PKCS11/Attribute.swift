/// One CK_ATTRIBUTE of a template: a type and its value bytes.
public struct Attribute: Sendable, Hashable {
    /// The attribute type.
    public let type: AttributeType
    /// The value's bytes, as Cryptoki encodes it.
    public var value: [UInt8]

    /// An attribute with raw bytes.
    public init(_ type: AttributeType, bytes: [UInt8]) {
        self.type = type
        self.value = bytes
    }

    /// A CK_BBOOL attribute.
    public init(_ type: AttributeType, _ flag: Bool) { self.init(type, bytes: [flag ? 1 : 0]) }
    /// A CK_ULONG attribute (classes, key types, lengths).
    public init(_ type: AttributeType, ulong: UInt) { self.init(type, bytes: ulongBytes([ulong])) }
    /// A UTF-8 string attribute (CKA_LABEL).
    public init(_ type: AttributeType, string: String) { self.init(type, bytes: Array(string.utf8)) }
    /// CKA_CLASS.
    public init(_ objectClass: ObjectClass) { self.init(.class, ulong: objectClass.rawValue) }
    /// CKA_KEY_TYPE.
    public init(_ keyType: KeyType) { self.init(.keyType, ulong: keyType.rawValue) }
    /// CKA_CERTIFICATE_TYPE.
    public init(_ certificateType: CertificateType) { self.init(.certificateType, ulong: certificateType.rawValue) }

    /// Wipes the value; for templates that carried key material.
    public mutating func wipe() { PKCS11.wipe(&value) }
}

/// Attribute values read back from an object. An attribute the token would not reveal
/// (CKR_ATTRIBUTE_SENSITIVE) or does not have (CKR_ATTRIBUTE_TYPE_INVALID) is simply absent.
public struct AttributeValues: Sendable {
    /// The values by type; an attribute the token would not give is absent.
    public private(set) var values: [AttributeType: [UInt8]] = [:]

    /// Values from a dictionary.
    public init(_ values: [AttributeType: [UInt8]] = [:]) { self.values = values }

    /// The raw bytes of one attribute.
    public subscript(type: AttributeType) -> [UInt8]? { values[type] }

    /// These values and `other`'s (other's where both have one).
    public func merging(_ other: AttributeValues) -> AttributeValues {
        AttributeValues(values.merging(other.values) { $1 })
    }

    /// A CK_BBOOL attribute.
    public func bool(_ type: AttributeType) -> Bool? {
        values[type].flatMap { $0.isEmpty ? nil : $0[0] != 0 }
    }

    /// A CK_ULONG attribute.
    public func ulong(_ type: AttributeType) -> UInt? {
        guard let bytes = values[type], bytes.count == MemoryLayout<UInt>.size else { return nil }
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt.self) }
    }

    /// A UTF-8 attribute such as CKA_LABEL.
    public func string(_ type: AttributeType) -> String? {
        values[type].map { String(decoding: $0, as: UTF8.self) }
    }

    /// CKA_CLASS.
    public var objectClass: ObjectClass? { ulong(.class).map(ObjectClass.init(rawValue:)) }
    /// CKA_KEY_TYPE.
    public var keyType: KeyType? { ulong(.keyType).map(KeyType.init(rawValue:)) }
    /// CKA_LABEL.
    public var label: String? { string(.label) }
    /// CKA_ID.
    public var id: [UInt8]? { values[.id] }
}
