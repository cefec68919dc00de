internal import CPKCS11
import CSoftTokenCrypto

/// A failure that the PKCS#11 boundary reports as its CK_RV.
struct CKRError: Error {
    let rv: CK_RV
    init(_ rv: CK_RV) { self.rv = rv }
}

/// Wipes bytes in place (OPENSSL_cleanse); used on every buffer that held a PIN or key material.
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { cbst_wipe($0.baseAddress, $0.count) }
}

/// Random bytes from OpenSSL's DRBG.
func randomBytes(_ count: Int) throws(CKRError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    guard cbst_random(&out, count) == 1 else { throw CKRError(CKR.functionFailed) }
    return out
}

extension Array where Element == UInt8 {
    /// A CK_ULONG in the host's byte order, as PKCS#11 attributes carry it.
    init(ulong value: CK_ULONG) { self = Swift.withUnsafeBytes(of: value) { Array($0) } }
    /// A CK_BBOOL.
    init(bool value: Bool) { self = [value ? 1 : 0] }

    /// The attribute as a CK_ULONG, when it is one.
    var ulong: CK_ULONG? {
        guard count == MemoryLayout<CK_ULONG>.size else { return nil }
        return withUnsafeBytes { $0.loadUnaligned(as: CK_ULONG.self) }
    }
    /// The attribute as a CK_BBOOL, when it is one.
    var bool: Bool? { count == 1 ? self[0] != 0 : nil }

    mutating func append(u32 value: UInt32) { Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) } }
    mutating func append(u64 value: UInt64) { Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) } }
}

/// Reads the fixed-width big-endian fields and length-prefixed records of the storage formats.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    /// How far into `bytes` the reader is (from the slice's start).
    private(set) var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }
    /// A reader of part of a larger buffer, without copying it.
    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func take(_ n: Int) throws(CKRError) -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count - offset >= n else { throw CKRError(CKR.deviceError) }
        defer { offset += n }
        let start = bytes.startIndex + offset
        return bytes[start..<start + n]
    }
    mutating func u32() throws(CKRError) -> UInt32 { try take(4).reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws(CKRError) -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }
    mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[(bytes.startIndex + offset)...])
    }
}

/// Attributes as the token stores them: type → value bytes.
typealias AttributeMap = [CK_ATTRIBUTE_TYPE: [UInt8]]

extension AttributeMap {
    /// type (u64) ‖ length (u32) ‖ value, in type order so equal maps encode equally.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        for (type, value) in sorted(by: { $0.key < $1.key }) {
            out.append(u64: UInt64(type))
            out.append(u32: UInt32(value.count))
            out.append(contentsOf: value)
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws(CKRError) -> AttributeMap {
        // Counted first (lengths only), so the map is allocated once at its size rather than
        // rehashed as it grows: an object file holds 20 to 40 attributes.
        var counter = ByteReader(bytes)
        var count = 0
        while !counter.isAtEnd {
            _ = try counter.take(8)
            _ = try counter.take(Int(try counter.u32()))
            count += 1
        }
        var reader = ByteReader(bytes)
        var map = AttributeMap(minimumCapacity: count)
        while !reader.isAtEnd {
            let type = CK_ATTRIBUTE_TYPE(try reader.u64())
            let length = Int(try reader.u32())
            map[type] = Array(try reader.take(length))
        }
        return map
    }

    func bool(_ type: CK_ATTRIBUTE_TYPE) -> Bool? { self[type]?.bool }
    func ulong(_ type: CK_ATTRIBUTE_TYPE) -> CK_ULONG? { self[type]?.ulong }

    /// Wipes every value in place (the map may hold key material) and empties it.
    mutating func wipeAll() {
        for key in keys { wipe(&self[key]!) }
        removeAll()
    }
}
