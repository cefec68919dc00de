/// The contents of a PFX backup: a private key, its certificate, the chain above it; and, for a
/// file with several key entries (a Java keystore with two aliases), each further one alike.
public struct Backup: Sendable {
    /// The private key (wiped from memory when the last reference goes).
    public let privateKey: PrivateKey
    /// The certificate whose public key is the private key's (the leaf).
    public let certificate: Certificate
    /// The issuers of `certificate`, in order: intermediate(s), then the root if present.
    public let chain: [Certificate]
    /// Certificates in the file that are not on the leaf's path, in file order.
    public let otherCertificates: [Certificate]
    /// The friendlyName attribute of the key (or else the leaf certificate), as UTF-8;
    /// Windows shows it as the certificate's "Friendly Name".
    public let friendlyName: String?
    /// The localKeyID attribute of the key (or else the leaf certificate).
    public let localKeyID: [UInt8]?
    /// How the file was protected, and what is weak about it.
    public let inspection: Inspection
    /// The file's further key entries, in file order, each with its own certificate and chain
    /// (their own `otherEntries` are empty).
    public var otherEntries: [Backup] = []
    /// Private keys in the file that no certificate in it belongs to.
    public var keysWithoutCertificate = 0

    /// Every key entry: this one, then `otherEntries`.
    public var entries: [Backup] { [self] + otherEntries }
}
