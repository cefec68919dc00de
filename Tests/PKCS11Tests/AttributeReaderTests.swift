import TestSupport
import Testing

@testable import PKCS11

@Suite("AttributeReader: one C_GetAttributeValue per object, a second pass only for what is too long")
struct AttributeReaderTests {
    @Test("values that fit come in one call; a longer one is read whole by the second pass; a missing one is absent")
    func fitsAndOverflows() throws {
        let (_, session) = try SoftHSM.freshSession()
        defer { try? session.logout() }
        let longLabel = String(repeating: "L", count: 600)
        let short = try session.createObject([
            Attribute(.data), Attribute(.token, false), Attribute(.label, string: "short"),
            Attribute(.value, bytes: [1, 2, 3]),
        ])
        let long = try session.createObject([
            Attribute(.data), Attribute(.token, false), Attribute(.label, string: longLabel),
            Attribute(.value, bytes: [UInt8](repeating: 7, count: 5000)),
        ])
        let reader = AttributeReader(
            session: session, attributes: [(.class, 8), (.label, 16), (.value, 16), (.keyType, 8)])
        for _ in 0..<2 {  // the buffers are reused: a long read must not leak into the next
            let a = try reader.read(short)
            #expect(a.objectClass == .data && a.label == "short" && a[.value] == [1, 2, 3])
            #expect(a[.keyType] == nil)  // a data object has no CKA_KEY_TYPE
            let b = try reader.read(long)
            #expect(b.objectClass == .data && b.label == longLabel && b[.value] == [UInt8](repeating: 7, count: 5000))
        }
    }

    @Test("a sensitive attribute is absent and the others still come")
    func sensitive() throws {
        let (_, session) = try SoftHSM.freshSession()
        defer { try? session.logout() }
        let (_, key) = try session.generateKeyPair(
            Mechanism(.rsaPKCSKeyPairGen),
            publicTemplate: [
                Attribute(.token, false), Attribute(.modulusBits, ulong: 1024),
                Attribute(.publicExponent, bytes: [1, 0, 1]),
            ],
            privateTemplate: [Attribute(.token, false), Attribute(.sensitive, true), Attribute(.label, string: "k")])
        let values = try AttributeReader(
            session: session, attributes: [(.privateExponent, 512), (.label, 8), (.modulus, 256)]
        ).read(key)
        #expect(values[.privateExponent] == nil)
        #expect(values.label == "k")
        #expect(values[.modulus]?.count == 128)
    }
}
