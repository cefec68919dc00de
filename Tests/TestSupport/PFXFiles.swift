import Foundation

/// PFX backups made by the real `openssl pkcs12`, the way users get them.
public struct PFXFixture: Sendable {
    public let path: String
    public let passwordFile: String
    public let keyPEM: String
    public let certificatePEM: String
    public let chainPEMs: [String]

    public init(path: String, passwordFile: String, keyPEM: String, certificatePEM: String, chainPEMs: [String]) {
        self.path = path
        self.passwordFile = passwordFile
        self.keyPEM = keyPEM
        self.certificatePEM = certificatePEM
        self.chainPEMs = chainPEMs
    }

    /// A key (RSA bits or EC curve), a leaf issued by an intermediate under a root, exported
    /// with `extra` openssl pkcs12 options (e.g. ["-legacy"]).
    public static func make(
        ec curve: String? = nil, rsaBits: Int = 2048, chain: Bool = true, name: String? = nil,
        extra: [String] = [], password: String = "backup-pass", in dir: TemporaryDirectory
    ) throws -> PFXFixture {
        let tag = UInt32.random(in: 0...UInt32.max)
        let keyPEM: String =
            if let curve { try ECComponents.generate(curve: curve, in: dir).pem } else {
                try RSAComponents.generate(bits: rsaBits, in: dir).pem
            }
        var chainPEMs: [String] = []
        let leaf: (pemPath: String, der: [UInt8])
        if chain {
            let root = try RSAComponents.generate(in: dir)
            let rootCert = try makeCertificate(
                keyPEM: root.pem, subject: "/CN=Backup Root CA \(tag)", ca: true, in: dir)
            let mid = try RSAComponents.generate(in: dir)
            let midCert = try makeCertificate(
                keyPEM: mid.pem, subject: "/CN=Backup Issuing CA \(tag)", issuerKeyPEM: root.pem,
                issuerCert: rootCert.pemPath, ca: true, in: dir)
            leaf = try makeCertificate(
                keyPEM: keyPEM, subject: "/CN=Backup User \(tag)/O=CertBridge", issuerKeyPEM: mid.pem,
                issuerCert: midCert.pemPath, in: dir)
            chainPEMs = [midCert.pemPath, rootCert.pemPath]
        } else {
            leaf = try makeCertificate(keyPEM: keyPEM, subject: "/CN=Backup User \(tag)", in: dir)
        }
        let keyPath = try dir.write("pfx-key-\(tag).pem", keyPEM)
        let passwordFile = try dir.write("pfx-pass-\(tag)", password)
        let out = dir.file("backup-\(tag).pfx")
        var arguments = [
            "pkcs12", "-export", "-inkey", keyPath, "-in", leaf.pemPath, "-passout", "file:\(passwordFile)", "-out",
            out,
        ]
        if chain {
            let bundle = try dir.write(
                "chain-\(tag).pem", try chainPEMs.map { try String(contentsOfFile: $0, encoding: .utf8) }.joined())
            arguments += ["-certfile", bundle]
        }
        if let name { arguments += ["-name", name] }
        let made = try run("openssl", arguments + extra)
        guard made.status == 0 else { throw TestSupportError("openssl pkcs12 -export: \(made.stderr)") }
        return PFXFixture(
            path: out, passwordFile: passwordFile, keyPEM: keyPath, certificatePEM: leaf.pemPath, chainPEMs: chainPEMs)
    }
}
