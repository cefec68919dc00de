import Foundation
import PKCS11
import Testing

/// Every return value the PKCS#11 header defines reaches a person by its CKR name, and an error
/// names the function that returned it.
@Suite("CKR names")
struct NamesTests {
    /// `CKR_NAME (value)` pairs read from the same header the C target includes.
    static func headerReturnValues() throws -> [(name: String, value: UInt)] {
        let header = try String(contentsOfFile: "/usr/include/p11-kit-1/p11-kit/pkcs11.h", encoding: .utf8)
        let define = try Regex(#"#define\s+(CKR_[A-Z0-9_]+)\s+\((0x[0-9A-Fa-f]+|\d+)UL\)"#)
        return header.split(separator: "\n").compactMap { line in
            guard let match = try? define.firstMatch(in: String(line)),
                let name = match.output[1].substring.map(String.init),
                let text = match.output[2].substring.map(String.init)
            else { return nil }
            let value = text.hasPrefix("0x") ? UInt(text.dropFirst(2), radix: 16) : UInt(text)
            return value.map { (name, $0) }
        }
    }

    @Test("every CKR in p11-kit's pkcs11.h has its own name")
    func everyReturnValueNamed() throws {
        let defined = try Self.headerReturnValues()
        #expect(defined.count > 80, "the header parse found too few CKR values")
        for (name, value) in defined where name != "CKR_VENDOR_DEFINED" {
            #expect(ReturnValue(rawValue: value).name == name, "0x\(String(value, radix: 16)) should be \(name)")
        }
        #expect(ReturnValue(rawValue: 0x8000_0001).name == "CKR_VENDOR_DEFINED")
        #expect(
            ReturnValue(rawValue: 0x7FFF_FFF0).name != "CKR_VENDOR_DEFINED",
            "an unknown standard value is not a vendor's")
    }

    @Test("an error says function, CKR name and value")
    func errorDescription() {
        let error = PKCS11Error(.returned(.pinIncorrect), function: "C_Login", reason: "")
        #expect(error.description == "C_Login: CKR_PIN_INCORRECT (0xA0)")
        let rng = PKCS11Error(.returned(ReturnValue(rawValue: 0x121)), function: "C_GenerateRandom", reason: "")
        #expect(rng.description == "C_GenerateRandom: CKR_RANDOM_NO_RNG (0x121)")
    }
}
