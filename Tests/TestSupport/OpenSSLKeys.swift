import Foundation
import PKCS11

/// Key material made by the real `openssl` tool, split into the components PKCS#11's
/// C_CreateObject takes, so tests can import keys with chosen flags.
public struct RSAComponents: Sendable {
    public let pem: String
    public let modulus, publicExponent, privateExponent, prime1, prime2, exponent1, exponent2, coefficient: [UInt8]

    /// A fresh RSA key from `openssl genpkey`.
    public static func generate(bits: Int = 2048, in dir: TemporaryDirectory) throws -> RSAComponents {
        let path = dir.file("rsa-\(UInt32.random(in: 0...UInt32.max)).pem")
        let gen = try run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:\(bits)", "-out", path])
        guard gen.status == 0 else { throw TestSupportError("openssl genpkey: \(gen.stderr)") }
        let text = try run("openssl", ["pkey", "-in", path, "-text", "-noout"]).stdout
        let fields = parseOpenSSLText(text)
        func field(_ name: String) throws -> [UInt8] {
            guard let value = fields[name] else { throw TestSupportError("openssl pkey -text lacks \(name)") }
            return value
        }
        return RSAComponents(
            pem: try String(contentsOfFile: path, encoding: .utf8),
            modulus: try field("modulus"), publicExponent: try field("publicExponent"),
            privateExponent: try field("privateExponent"), prime1: try field("prime1"), prime2: try field("prime2"),
            exponent1: try field("exponent1"), exponent2: try field("exponent2"), coefficient: try field("coefficient"))
    }

    /// The private-key template for C_CreateObject, with the flags the test chooses.
    public func privateTemplate(label: String, id: [UInt8], extraFlags: [Attribute]) -> [Attribute] {
        [Attribute(.privateKey), Attribute(.rsa), Attribute(.token, true), Attribute(.private, true),
         Attribute(.label, string: label), Attribute(.id, bytes: id), Attribute(.sign, true),
         Attribute(.modulus, bytes: modulus), Attribute(.publicExponent, bytes: publicExponent),
         Attribute(.privateExponent, bytes: privateExponent), Attribute(.prime1, bytes: prime1),
         Attribute(.prime2, bytes: prime2), Attribute(.exponent1, bytes: exponent1),
         Attribute(.exponent2, bytes: exponent2), Attribute(.coefficient, bytes: coefficient)] + extraFlags
    }

    public func publicTemplate(label: String, id: [UInt8]) -> [Attribute] {
        [Attribute(.publicKey), Attribute(.rsa), Attribute(.token, true), Attribute(.label, string: label),
         Attribute(.id, bytes: id), Attribute(.verify, true),
         Attribute(.modulus, bytes: modulus), Attribute(.publicExponent, bytes: publicExponent)]
    }
}

/// Reads `openssl pkey -text` output: "name:" then indented hex lines, or "name: 65537 (0x10001)".
func parseOpenSSLText(_ text: String) -> [String: [UInt8]] {
    var fields: [String: [UInt8]] = [:]
    var current: String?
    for line in text.split(separator: "\n") {
        if !line.hasPrefix(" ") {
            current = nil
            let parts = line.split(separator: ":", maxSplits: 1)
            guard let name = parts.first.map(String.init) else { continue }
            if parts.count == 2, let open = parts[1].firstIndex(of: "("), let hex = parts[1][open...].split(separator: "x").last {
                var digits = String(hex.dropLast())
                if digits.count % 2 == 1 { digits = "0" + digits }
                fields[name] = hexBytes(digits)
            } else {
                current = name
                fields[name] = []
            }
        } else if let name = current {
            fields[name]! += hexBytes(line.filter { $0 != " " && $0 != ":" })
        }
    }
    // openssl prints a leading 00 where the top bit is set; PKCS#11 big integers carry none.
    for (name, value) in fields { fields[name] = Array(value.drop { $0 == 0 }) }
    return fields
}

public func hexBytes(_ hex: some StringProtocol) -> [UInt8] {
    var bytes: [UInt8] = []
    var iterator = hex.makeIterator()
    while let high = iterator.next(), let low = iterator.next() {
        if let byte = UInt8(String([high, low]), radix: 16) { bytes.append(byte) }
    }
    return bytes
}

public func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
