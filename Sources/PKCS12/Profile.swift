internal import COpenSSL

/// How `PFX.make` protects a backup.
public struct Profile: Hashable, Sendable, CustomStringConvertible {
    /// Encrypts keys and certificates with PBES2: AES-256-CBC, key from PBKDF2-HMAC-SHA256;
    /// integrity by HMAC-SHA256. Windows 10 1709+ / Server 2019+, OpenSSL 1.1+, macOS 14+ read it.
    public static let modern = Profile(
        name: "modern", cipherNID: NID_aes_256_cbc, macDigest: "SHA256",
        iterations: modernIterations)
    /// pbeWithSHAAnd3-KeyTripleDES-CBC for keys and certificates, HMAC-SHA1, 2048 iterations:
    /// what every Windows since XP, old Java and old macOS import. Weak; only for old readers.
    public static let compat = Profile(
        name: "compat", cipherNID: NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
        macDigest: "SHA1", iterations: 2048)

    /// PBKDF2 rounds for `modern`. A password guess costs an attacker one derivation (of the
    /// key bag, the certificate bag or the MAC, whichever is cheapest), so all three use the same
    /// count. 600,000 is OWASP's 2023 figure for PBKDF2-HMAC-SHA256 and what NIST SP 800-132 §5.2
    /// ("as large as verification time allows") suggests for a file opened by a person once;
    /// it costs this 2-core machine about a second per open or save.
    public static let modernIterations = 600_000

    /// "modern" or "compat", as the CLI's `--profile` spells it.
    public let name: String
    let cipherNID: Int32
    let macDigest: String
    /// Iterations of the key derivation and of the MAC.
    public let iterations: Int

    /// The profile's name.
    public var description: String { name }
}
