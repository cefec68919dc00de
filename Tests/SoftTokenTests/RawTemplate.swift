internal import CPKCS11

/// A CK_ATTRIBUTE array over memory of its own, for the templates the PKCS11 layer does not
/// build: a value with a wrong length, a nested template (CKA_WRAP_TEMPLATE). Every pointer in
/// it stays valid while the template lives.
final class RawTemplate {
    private(set) var attributes: [CK_ATTRIBUTE] = []
    private var values: [UnsafeMutableRawBufferPointer] = []
    /// Nested templates, kept alive for the pointers into their values.
    private var nested: [RawTemplate] = []

    deinit { values.forEach { $0.deallocate() } }

    /// Adds `type` with a copy of `bytes` as its value; the module is told `length` bytes
    /// (their count unless given).
    @discardableResult
    func add(_ type: some BinaryInteger, bytes: [UInt8], length: Int? = nil) -> RawTemplate {
        bytes.withUnsafeBytes { add(type, raw: $0, length: length ?? bytes.count) }
    }

    /// Adds a CK_ULONG attribute (CKA_CLASS, CKA_KEY_TYPE).
    @discardableResult
    func add(_ type: some BinaryInteger, ulong value: some BinaryInteger) -> RawTemplate {
        add(type, bytes: withUnsafeBytes(of: CK_ULONG(value)) { Array($0) })
    }

    /// Adds a CK_BBOOL attribute.
    @discardableResult
    func add(_ type: some BinaryInteger, bool value: Bool) -> RawTemplate {
        add(type, bytes: [value ? 1 : 0])
    }

    /// Adds a CK_ATTRIBUTE-array attribute holding `template`.
    @discardableResult
    func add(_ type: some BinaryInteger, template: RawTemplate) -> RawTemplate {
        nested.append(template)
        return template.attributes.withUnsafeBytes { add(type, raw: $0, length: $0.count) }
    }

    /// Calls `body` with the array and its count, as C_CreateObject and C_UnwrapKey take them.
    func withAttributes<R>(_ body: (UnsafeMutablePointer<CK_ATTRIBUTE>?, CK_ULONG) -> R) -> R {
        attributes.withUnsafeMutableBufferPointer { body($0.baseAddress, CK_ULONG($0.count)) }
    }

    private func add(_ type: some BinaryInteger, raw: UnsafeRawBufferPointer, length: Int) -> RawTemplate {
        let value = UnsafeMutableRawBufferPointer.allocate(byteCount: max(raw.count, 1), alignment: 8)
        value.copyMemory(from: raw)
        values.append(value)
        attributes.append(
            CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(type), pValue: value.baseAddress, ulValueLen: CK_ULONG(length)))
        return self
    }
}
