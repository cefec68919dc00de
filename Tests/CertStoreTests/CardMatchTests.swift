import Testing

@testable import CertStore

/// Pure rules of the card support: which PKCS#11 slot sits in which reader, which PIV slot a key
/// goes to, and what a PIV card takes.
@Suite("smart-card matching and PIV slots")
struct CardMatchTests {
    @Test(
        "a slot matches its reader by name, padded, cut to 64 characters, or with an application added; not the neighbour"
    )
    func slotMatchesReader() {
        let reader = "Yubico CertBridge Virtual YubiKey 00 00"
        #expect(Store.slot(reader, isIn: reader))
        #expect(Store.slot(reader + "          ", isIn: reader))
        #expect(Store.slot(reader + " (PIV)", isIn: reader))
        #expect(!Store.slot("Yubico CertBridge Virtual YubiKey 00 01", isIn: reader))
        #expect(!Store.slot("", isIn: reader))
        #expect(!Store.slot("Yubico", isIn: reader), "a short common prefix is not a cut-off name")
        let long = "Alcor Micro AU9560 Smart Card Reader with a very long name indeed 00 00"
        #expect(Store.slot(String(long.prefix(64)), isIn: long))
    }

    @Test("High goes to 9C (PIN always) only; standard to PIN-once slots, never 9E (PIN never)")
    func slotsByLevel() {
        #expect(PIVSlot.candidates(for: .high).map(\.reference) == [0x9C])
        let standard = PIVSlot.candidates(for: .standard).map(\.reference)
        #expect(standard.prefix(2) == [0x9A, 0x9D])
        #expect(!standard.contains(0x9C) && !standard.contains(0x9E))
        #expect(standard.count == 22 && standard.last == 0x95)
        #expect(PIVSlot.signature.description == "slot 9C (Digital Signature)")
    }

    @Test(
        "RSA 2048 with exponent 65537 becomes five CRT values, each as long as a prime; RSA 3072 and odd exponents are refused"
    )
    func pivComponents() throws {
        func rsa(bits: Int, exponent: [UInt8]) -> KeyMaterial {
            let half = bits / 16
            let modulus = [0x80] + [UInt8](repeating: 1, count: bits / 8 - 1)
            return KeyMaterial(
                rsaModulus: modulus, publicExponent: exponent, privateExponent: [UInt8](repeating: 2, count: bits / 8),
                prime1: [0xC0] + [UInt8](repeating: 3, count: half - 1),
                prime2: [0xC0] + [UInt8](repeating: 4, count: half - 1),
                exponent1: [5, 5], exponent2: [6], coefficient: [0, 7])
        }
        let components = try Store.pivKeyComponents(rsa(bits: 2048, exponent: [1, 0, 1]))
        #expect(components.map(\.type) == [.publicExponent, .prime1, .prime2, .exponent1, .exponent2, .coefficient])
        #expect(components.dropFirst().allSatisfy { $0.value.count == 128 })
        #expect(components[3].value.suffix(2) == [5, 5] && components[3].value.prefix(126).allSatisfy { $0 == 0 })
        #expect(components[5].value.last == 7)
        #expect(throws: StoreError.self) { try Store.pivKeyComponents(rsa(bits: 3072, exponent: [1, 0, 1])) }
        #expect(throws: StoreError.self) { try Store.pivKeyComponents(rsa(bits: 2048, exponent: [3])) }
    }
}
