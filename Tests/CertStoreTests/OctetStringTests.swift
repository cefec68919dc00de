import Testing

@testable import CertStore

/// CKA_EC_POINT comes as a DER OCTET STRING around the point, or from some tokens as the bare
/// point; the key's CKA_ID is the SHA-1 of the point itself either way.
@Suite("EC point unwrapping")
struct OctetStringTests {
    /// An uncompressed P-256 point: 0x04, then X and Y.
    let point: [UInt8] = [0x04] + [UInt8](repeating: 0x11, count: 32) + [UInt8](repeating: 0x22, count: 32)

    @Test("an OCTET STRING gives its contents, in the short and the long length form")
    func unwraps() {
        #expect(unwrapOctetString([0x04, 0x41] + point) == point)
        let p521 = [0x04] + [UInt8](repeating: 0x33, count: 132)
        #expect(unwrapOctetString([0x04, 0x81, 0x85] + p521) == p521)
    }

    @Test("a bare point, an OCTET STRING with bytes after it, and another type are left as they are")
    func leavesTheRest() {
        #expect(unwrapOctetString(point) == point)
        let trailing = [0x04, 0x41] + point + [0x00]
        #expect(unwrapOctetString(trailing) == trailing)
        let bitString: [UInt8] = [0x03, 0x02, 0x00, 0x01]
        #expect(unwrapOctetString(bitString) == bitString)
    }
}
