import Foundation
import PKCS12
import Synchronization

/// A leaf key type the tests cover.
enum LeafKind: String, CaseIterable, Sendable {
    case rsa1024, rsa2048, rsa4096, p256, p384, p521, ed25519

    /// `openssl genpkey` arguments.
    var genpkey: [String] {
        switch self {
        case .rsa1024: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]
        case .rsa2048: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        case .rsa4096: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"]
        case .p256: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        case .p384: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]
        case .p521: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"]
        case .ed25519: ["-algorithm", "ED25519"]
        }
    }

    var expectedType: KeyType? {
        switch self {
        case .rsa1024, .rsa2048, .rsa4096: .rsa
        case .p256: .ec(.p256)
        case .p384: .ec(.p384)
        case .p521: .ec(.p521)
        case .ed25519: nil
        }
    }

    var expectedBits: Int {
        switch self {
        case .rsa1024: 1024
        case .rsa2048: 2048
        case .rsa4096: 4096
        case .p256: 256
        case .p384: 384
        case .p521: 521
        case .ed25519: 253
        }
    }
}

/// A root CA → intermediate CA → leaves PKI made by `openssl` in a temp directory, once per test
/// process (key generation is the slow part), and PFX files exported from it.
final class TestPKI: Sendable {
    /// Shared by every test; built on first use.
    static let shared: TestPKI = {
        do { return try TestPKI(kinds: LeafKind.allCases.filter { $0 != .rsa4096 }) } catch {
            fatalError("test PKI: \(error)")
        }
    }()

    /// RSA-4096 uses a fixed key (`rsa4096TestKeyPEM`); its certificate is issued fresh.
    static let withRSA4096: TestPKI = {
        do { return try TestPKI(kinds: [.rsa4096]) } catch { fatalError("test PKI: \(error)") }
    }()

    static let rootSubject = "CN=CertBridge Test Root,O=CertBridge"
    static let intermediateSubject = "CN=CertBridge Test Intermediate,O=CertBridge"
    static func leafSubject(_ kind: LeafKind) -> String { "CN=Zoë Müller \(kind.rawValue),O=CertBridge" }

    let directory: URL

    /// Static fixtures are never deinitialised, so their directories go at process exit.
    private static let directoriesToRemove = Mutex<[URL]>([])
    private static let removeAtExit: Void = {
        atexit {
            for directory in TestPKI.directoriesToRemove.withLock({ $0 }) {
                try? FileManager.default.removeItem(at: directory)
            }
        }
    }()

    private init(kinds: [LeafKind]) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("certbridge-pkcs12-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        Self.removeAtExit
        Self.directoriesToRemove.withLock { [directory] in $0.append(directory) }
        try write(
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
            to: "ca.ext")
        try write(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
            to: "leaf.ext")
        try run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "root.key", "-out", "root.pem", "-days", "30", "-utf8",
            "-subj", "/O=CertBridge/CN=CertBridge Test Root",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try issue(
            name: "intermediate", key: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            subject: "/O=CertBridge/CN=CertBridge Test Intermediate", by: "root", extensions: "ca.ext")
        for kind in kinds {
            try issue(
                name: kind.rawValue, key: kind.genpkey,
                subject: "/O=CertBridge/CN=Zoë Müller \(kind.rawValue)", by: "intermediate", extensions: "leaf.ext")
        }
        // Root first on purpose: the reader must order the chain, not trust the file.
        let chain = try Data(contentsOf: url("root.pem")) + Data(contentsOf: url("intermediate.pem"))
        try chain.write(to: url("chain.pem"))
    }

    func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }

    @discardableResult
    func run(_ arguments: [String]) throws -> (stdout: String, stderr: String) {
        try OpenSSLTool.run(arguments, in: directory)
    }

    func write(_ text: String, to name: String) throws {
        try Data(text.utf8).write(to: url(name))
    }

    /// A file holding `password`, for `-passin file:` / `-passout file:`; a unique name.
    func passwordFile(_ password: String) throws -> String {
        let name = "pw-\(UUID().uuidString)"
        try write(password + "\n", to: name)
        return name
    }

    /// `openssl pkcs12 -export` of a leaf; `password == ""` exports with the empty password.
    func exportPFX(
        _ kind: LeafKind, password: String = "secret", chain: Bool = true,
        name: String? = nil, options: [String] = []
    ) throws -> [UInt8] {
        let out = "\(kind.rawValue)-\(UUID().uuidString).p12"
        var arguments = [
            "pkcs12", "-export", "-inkey", "\(kind.rawValue).key", "-in", "\(kind.rawValue).pem", "-out", out,
        ]
        arguments += password.isEmpty ? ["-passout", "pass:"] : ["-passout", "file:" + (try passwordFile(password))]
        if chain { arguments += ["-certfile", "chain.pem"] }
        if let name { arguments += ["-name", name] }
        try run(arguments + options)
        return try bytes(out)
    }

    /// Writes `bytes` to a new file in the PKI directory; returns its name.
    func save(_ bytes: [UInt8], suffix: String = "p12") throws -> String {
        let name = "\(UUID().uuidString).\(suffix)"
        try Data(bytes).write(to: url(name))
        return name
    }

    /// The SubjectPublicKeyInfo DER of a leaf's key, as `openssl pkey -pubout` writes it.
    func leafPublicKeyInfo(_ kind: LeafKind) throws -> [UInt8] {
        let name = "\(kind.rawValue)-\(UUID().uuidString).spki"
        try run(["pkey", "-in", "\(kind.rawValue).key", "-pubout", "-outform", "DER", "-out", name])
        return try bytes(name)
    }

    /// `openssl pkcs12 -info -noout` on `pfx`; stdout and stderr together.
    func info(_ pfx: [UInt8], password: String) throws -> String {
        let name = try save(pfx)
        let result = try run([
            "pkcs12", "-info", "-noout", "-in", name, "-passin", "file:" + (try passwordFile(password)),
        ])
        return result.stdout + result.stderr
    }

    private func issue(name: String, key: [String], subject: String, by issuer: String, extensions: String) throws {
        if name == LeafKind.rsa4096.rawValue {
            try write(rsa4096TestKeyPEM + "\n", to: "\(name).key")
        } else {
            try run(["genpkey"] + key + ["-out", "\(name).key"])
        }
        try run(["req", "-new", "-key", "\(name).key", "-out", "\(name).csr", "-utf8", "-subj", subject])
        try run([
            "x509", "-req", "-in", "\(name).csr", "-CA", "\(issuer).pem", "-CAkey", "\(issuer).key",
            "-set_serial", "0x\(String(UInt32.random(in: 1...UInt32.max), radix: 16))", "-days", "30",
            "-extfile", extensions, "-out", "\(name).pem",
        ])
    }
}
