import Foundation

/// A certificate authority made with openssl for one test: an RSA key and a CA certificate,
/// self-signed (a root) or issued by another `TestCA`. It issues what an enrollment request asks
/// for, the way a real CA answers `enroll new`.
public struct TestCA: Sendable {
    /// The CA's key, as PEM text.
    public let keyPEM: String
    /// The CA's certificate, a PEM file.
    public let certificatePEM: String
    private let dir: TemporaryDirectory

    /// A new CA named `subject` (e.g. "/CN=Test CA"), under `issuer` or self-signed.
    public init(subject: String, issuer: TestCA? = nil, in dir: TemporaryDirectory) throws {
        let key = try RSAComponents.generate(in: dir)
        keyPEM = key.pem
        certificatePEM =
            try makeCertificate(
                keyPEM: key.pem, subject: subject, issuerKeyPEM: issuer?.keyPEM, issuerCert: issuer?.certificatePEM,
                ca: true, in: dir
            ).pemPath
        self.dir = dir
    }

    /// The certificate the CSR at `csr` asks for, issued for 30 days by `openssl x509 -req`, as
    /// a PEM file; with `copyExtensions` it carries the request's extensions (its subjectAltNames).
    public func issue(_ csr: String, copyExtensions: Bool = false) throws -> String {
        let tag = UInt32.random(in: 0...UInt32.max)
        let caKey = try dir.write("ca-key-\(tag).pem", keyPEM)
        let issued = dir.file("issued-\(tag).pem")
        let signed = try run(
            "openssl",
            [
                "x509", "-req", "-in", csr, "-CA", certificatePEM, "-CAkey", caKey, "-CAcreateserial",
                "-days", "30", "-out", issued,
            ] + (copyExtensions ? ["-copy_extensions", "copy"] : []))
        guard signed.status == 0 else { throw TestSupportError("openssl x509 -req: \(signed.stderr)") }
        return issued
    }
}
