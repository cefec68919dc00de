import Crypto
import FoundationEssentials
public import PKCS11
import X509
import _CryptoExtras

/// The outcome of the encryption round trip `test-sign` and `enroll verify` run for an
/// encryption key: a random secret encrypted (RSA-OAEP) or agreed (ECDH with a fresh ephemeral
/// key) here with the public key, then recovered on the token with the private key.
public struct EncryptionSelfTest: Sendable, Codable {
    /// Which test ran: always `encrypt-decrypt` (the signing test is `sign-verify`).
    public var test = "encrypt-decrypt"
    /// The key's URI.
    public var key: String
    /// The key's kind, e.g. `RSA 2048`.
    public var keyType: String
    /// The key's security level.
    public var securityLevel: SecurityLevel
    /// How the round trip ran, e.g. `RSA-OAEP (SHA-1) → C_Decrypt`.
    public var mechanism: String
    /// The steps, in order.
    public private(set) var steps: [SigningSelfTest.Step] = []
    /// Every step passed.
    public private(set) var ok = true

    mutating func record(
        _ name: String, _ ok: Bool, _ detail: String, _ error: StoreError? = nil,
        progress: (SigningSelfTest.Step) -> Void
    ) {
        let step = SigningSelfTest.Step(
            name: name, ok: ok, detail: detail, exitCode: ok ? nil : (error?.code ?? .failed).rawValue)
        steps.append(step)
        self.ok = self.ok && ok
        progress(step)
    }
}

extension Store {
    /// Runs the encryption round trip on the key a URI names. Throws only when the key cannot
    /// be found; a failing step is in the report.
    public func encryptionSelfTest(
        _ uri: PKCS11URI, pin: PINProvider?, keyPassword: @escaping KeyPasswordProvider, attempts: Int = 1,
        progress: (SigningSelfTest.Step) -> Void = { _ in }
    ) throws(StoreError) -> EncryptionSelfTest {
        let use = try KeyUse(key: privateKey(uri, pin: pin), keyPassword: keyPassword, attempts: attempts)
        var report = EncryptionSelfTest(
            key: use.uri.description, keyType: use.description.kind.description,
            securityLevel: use.description.securityLevel,
            mechanism: use.isRSA
                ? "RSA-OAEP (SHA-1) → C_Decrypt" : "ECDH with an ephemeral key → C_DeriveKey (CKM_ECDH1_DERIVE)")
        let high = use.description.securityLevel == .high ? " after the key's own login (High)" : ""
        let publicKey: Certificate.PublicKey
        let source: String
        do throws(StoreError) {
            let found = try self.publicKey(matching: use.uri, pin: pin)
            (publicKey, source) = (try found.key.certificateKey(for: "An encryption round trip"), found.source)
        } catch {
            report.record("encrypt", false, error.reason, error, progress: progress)
            return report
        }
        var secret = [UInt8](repeating: 0, count: 32)
        for i in secret.indices { secret[i] = UInt8.random(in: 0...255) }
        defer { wipe(&secret) }
        do {
            if use.isRSA {
                guard let rsa = _RSA.Signing.PublicKey(publicKey) else {
                    throw StoreError(.failed, "the \(source) does not hold an RSA key")
                }
                let encryptionKey = try _RSA.Encryption.PublicKey(unsafePEMRepresentation: rsa.pemRepresentation)
                let encrypted = [UInt8](try encryptionKey.encrypt(secret, padding: .PKCS1_OAEP))
                report.record(
                    "encrypt", true, "encrypted a random 32-byte secret to the \(source) with RSA-OAEP",
                    progress: progress)
                var recovered = try use.decrypt(encrypted, mechanism: .oaep(hash: .sha1, mgf: .mgf1SHA1))
                defer { wipe(&recovered) }
                let same = recovered == secret
                report.record(
                    "decrypt", same,
                    same
                        ? "the token decrypted it to the same secret with C_Decrypt\(high)"
                        : "the token decrypted it to other bytes: the key and its public half do not match",
                    progress: progress)
            } else {
                let (ephemeralPublic, expected) = try Self.ephemeralAgreement(with: publicKey)
                report.record(
                    "encrypt", true, "agreed a secret with the \(source) from a fresh ephemeral key (ECDH)",
                    progress: progress)
                var agreed = try use.derive(publicPoint: ephemeralPublic)
                defer { wipe(&agreed) }
                let same = agreed == expected
                report.record(
                    "decrypt", same,
                    same
                        ? "the token agreed the same secret with C_DeriveKey\(use.approval == nil ? "" : high)"
                        : "the token agreed another secret: the key and its public half do not match",
                    progress: progress)
            }
        } catch let error as StoreError {
            report.record(report.steps.isEmpty ? "encrypt" : "decrypt", false, error.reason, error, progress: progress)
        } catch {
            report.record("encrypt", false, "the round trip could not start: \(error)", progress: progress)
        }
        return report
    }

    /// A fresh ephemeral key on the public key's curve: its public point and the shared secret.
    private static func ephemeralAgreement(with publicKey: Certificate.PublicKey) throws -> ([UInt8], [UInt8]) {
        if let nist = NISTKey(publicKey) { return try nist.key.ephemeralAgreement() }
        throw StoreError(.failed, "the public key is not on P-256, P-384 or P-521")
    }
}
