/// One CK_ATTRIBUTE of a template: a type and its value bytes.
public struct Attribute: Sendable, Hashable {
    public let type: AttributeType
    public var value: [UInt8]

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
    public init(_ objectClass: ObjectClass) { self.init(.class, ulong: objectClass.rawValue) }
    public init(_ keyType: KeyType) { self.init(.keyType, ulong: keyType.rawValue) }

    /// Wipes the value; for templates that carried key material.
    public mutating func wipe() { PKCS11.wipe(&value) }
}

/// Attribute values read back from an object. An attribute the token would not reveal
/// (CKR_ATTRIBUTE_SENSITIVE) or does not have (CKR_ATTRIBUTE_TYPE_INVALID) is simply absent.
public struct AttributeValues: Sendable {
    public private(set) var values: [AttributeType: [UInt8]] = [:]

    public init(_ values: [AttributeType: [UInt8]] = [:]) { self.values = values }

    public subscript(type: AttributeType) -> [UInt8]? { values[type] }

    public func bool(_ type: AttributeType) -> Bool? {
        values[type].flatMap { $0.isEmpty ? nil : $0[0] != 0 }
    }

    public func ulong(_ type: AttributeType) -> UInt? {
        guard let bytes = values[type], bytes.count == MemoryLayout<UInt>.size else { return nil }
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt.self) }
    }

    public func string(_ type: AttributeType) -> String? {
        values[type].map { String(decoding: $0, as: UTF8.self) }
    }

    public var objectClass: ObjectClass? { ulong(.class).map(ObjectClass.init(rawValue:)) }
    public var keyType: KeyType? { ulong(.keyType).map(KeyType.init(rawValue:)) }
    public var label: String? { string(.label) }
    public var id: [UInt8]? { values[.id] }
}
