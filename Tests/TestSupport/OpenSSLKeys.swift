import Foundation
import PKCS11

/// Key material made by the real `openssl` tool, split into the components PKCS#11's
/// C_CreateObject takes, so tests can import keys with chosen flags.
public struct RSAComponents: Sendable {
    public let pem: String
    public let modulus, publicExponent, privateExponent, prime1, prime2, exponent1, exponent2, coefficient: [UInt8]

    /// A fresh RSA key from `openssl genpkey`.
    public static func generate(bits: Int = 2048, in dir: TemporaryDirectory) throws -> RSAComponents {
        let (path, fields) = try opensslGenerateKey("RSA", option: "rsa_keygen_bits:\(bits)", in: dir)
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
        [
            Attribute(.privateKey), Attribute(.rsa), Attribute(.token, true), Attribute(.private, true),
            Attribute(.label, string: label), Attribute(.id, bytes: id), Attribute(.sign, true),
            Attribute(.modulus, bytes: modulus), Attribute(.publicExponent, bytes: publicExponent),
            Attribute(.privateExponent, bytes: privateExponent), Attribute(.prime1, bytes: prime1),
            Attribute(.prime2, bytes: prime2), Attribute(.exponent1, bytes: exponent1),
            Attribute(.exponent2, bytes: exponent2), Attribute(.coefficient, bytes: coefficient),
        ] + extraFlags
    }

    public func publicTemplate(label: String, id: [UInt8]) -> [Attribute] {
        [
            Attribute(.publicKey), Attribute(.rsa), Attribute(.token, true), Attribute(.label, string: label),
            Attribute(.id, bytes: id), Attribute(.verify, true),
            Attribute(.modulus, bytes: modulus), Attribute(.publicExponent, bytes: publicExponent),
        ]
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
            if parts.count == 2, let open = parts[1].firstIndex(of: "("),
                let hex = parts[1][open...].split(separator: "x").last
            {
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

/// An EC key made by `openssl genpkey`, split into PKCS#11 components.
public struct ECComponents: Sendable {
    public let pem: String
    /// CKA_EC_PARAMS (the curve's DER OID).
    public let parameters: [UInt8]
    public let privateValue: [UInt8]
    /// CKA_EC_POINT: the uncompressed point wrapped in a DER OCTET STRING.
    public let point: [UInt8]

    static let curves: [String: [UInt8]] = [
        "prime256v1": [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07],
        "secp384r1": [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22],
        "secp521r1": [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23],
    ]

    public static func generate(curve: String = "prime256v1", in dir: TemporaryDirectory) throws -> ECComponents {
        let (path, fields) = try opensslGenerateKey("EC", option: "ec_paramgen_curve:\(curve)", in: dir)
        guard let params = curves[curve], var priv = fields["priv"], let pub = fields["pub"] else {
            throw TestSupportError("cannot read EC key fields")
        }
        // openssl prints the scalar with a leading 00 at times; PKCS#11 wants the field size.
        let size = (pub.count - 1) / 2
        while priv.count < size { priv.insert(0, at: 0) }
        let point = [0x04] + derLength(pub.count) + pub
        return ECComponents(
            pem: try String(contentsOfFile: path, encoding: .utf8), parameters: params, privateValue: priv, point: point
        )
    }
}

/// A new key from `openssl genpkey -algorithm ALGORITHM -pkeyopt OPTION` in `dir`: its PEM file
/// and the fields `openssl pkey -text` prints.
func opensslGenerateKey(_ algorithm: String, option: String, in dir: TemporaryDirectory) throws -> (
    path: String, fields: [String: [UInt8]]
) {
    let path = dir.file("\(algorithm.lowercased())-\(UInt32.random(in: 0...UInt32.max)).pem")
    let gen = try run("openssl", ["genpkey", "-algorithm", algorithm, "-pkeyopt", option, "-out", path])
    guard gen.status == 0 else { throw TestSupportError("openssl genpkey: \(gen.stderr)") }
    let text = try run("openssl", ["pkey", "-in", path, "-text", "-noout"]).stdout
    return (path, parseOpenSSLText(text))
}

func derLength(_ length: Int) -> [UInt8] {
    length < 0x80
        ? [UInt8(length)] : length < 0x100 ? [0x81, UInt8(length)] : [0x82, UInt8(length >> 8), UInt8(length & 0xFF)]
}

/// A certificate for a key, made by `openssl req -x509` (self-signed) or signed by an issuer.
public func makeCertificate(
    keyPEM: String, subject: String, issuerKeyPEM: String? = nil, issuerCert: String? = nil,
    ca: Bool = false, in dir: TemporaryDirectory
) throws -> (pemPath: String, der: [UInt8]) {
    let tag = UInt32.random(in: 0...UInt32.max)
    let keyPath = try dir.write("key-\(tag).pem", keyPEM)
    let pemPath = dir.file("cert-\(tag).pem")
    let ext =
        ca ? ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"] : []
    if let issuerKeyPEM, let issuerCert {
        let issuerKey = try dir.write("issuer-\(tag).pem", issuerKeyPEM)
        let csr = dir.file("csr-\(tag).pem")
        var r = try run("openssl", ["req", "-new", "-key", keyPath, "-subj", subject, "-out", csr])
        guard r.status == 0 else { throw TestSupportError("openssl req: \(r.stderr)") }
        let extFile = try dir.write(
            "ext-\(tag).cnf",
            ca
                ? "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                : "basicConstraints=CA:FALSE\n")
        r = try run(
            "openssl",
            [
                "x509", "-req", "-in", csr, "-CA", issuerCert, "-CAkey", issuerKey, "-CAcreateserial",
                "-days", "365", "-extfile", extFile, "-out", pemPath,
            ])
        guard r.status == 0 else { throw TestSupportError("openssl x509: \(r.stderr)") }
    } else {
        let r = try run(
            "openssl", ["req", "-x509", "-key", keyPath, "-subj", subject, "-days", "365", "-out", pemPath] + ext)
        guard r.status == 0 else { throw TestSupportError("openssl req -x509: \(r.stderr)") }
    }
    let der = try run("openssl", ["x509", "-in", pemPath, "-outform", "DER"]).stdoutData
    return (pemPath, [UInt8](der))
}
