import Crypto
internal import PKCS11
import X509
import _CryptoExtras

/// The outcome of `certbridge test-sign`: each step, and whether the key works.
public struct SigningSelfTest: Sendable, Codable {
    /// One step of the self-test.
    public struct Step: Sendable, Codable, Hashable {
        /// What the step does, e.g. `sign` or `verify`.
        public let name: String
        /// Whether the step passed.
        public let ok: Bool
        /// One sentence on what happened.
        public let detail: String
        /// For a failed step, the documented exit code of its error (4 for a wrong password).
        public let exitCode: Int32?
    }

    /// The key's label.
    public var key: String
    /// The key's kind, e.g. `EC P-256`.
    public var keyType: String
    /// The key's security level, as the token reports it.
    public var securityLevel: SecurityLevel
    /// The signature mechanism used, e.g. `ecdsa-sha256`.
    public var mechanism: String
    /// The steps run so far, in order.
    public private(set) var steps: [Step] = []
    /// For a High key: the module signed without the context login (CertBridge logs in anyway).
    public var moduleLax: Bool?
    /// Every step passed: the key signs, the signature verifies, and for a High key an
    /// unapproved use was refused (or the module is lax, which CertBridge never relies on).
    public private(set) var ok = true

    /// Signs a fresh random challenge, verifies it with the public key, and for a High key
    /// proves that a signature without the context login is refused, then that the key still
    /// signs with it. `progress` sees each step as it finishes (prompts come in between).
    public static func run(
        _ signer: Signer, algorithm: SignatureAlgorithm? = nil,
        progress: (Step) -> Void = { _ in }
    ) -> SigningSelfTest {
        let algorithm = algorithm ?? signer.key.kind.defaultAlgorithm
        var report = SigningSelfTest(
            key: signer.key.uri.description, keyType: signer.key.kind.description,
            securityLevel: signer.key.securityLevel, mechanism: algorithm.name)
        func step(_ name: String, _ ok: Bool, _ detail: String, _ error: StoreError? = nil) {
            let step = Step(name: name, ok: ok, detail: detail, exitCode: ok ? nil : (error?.code ?? .failed).rawValue)
            report.steps.append(step)
            report.ok = report.ok && ok
            progress(step)
        }
        let high = signer.key.securityLevel == .high
        var challenge = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in challenge.indices { challenge[i] = rng.next() }

        let signature: [UInt8]
        do {
            signature = try signer.sign(challenge, algorithm: algorithm)
            step(
                "sign", true,
                "signed a random 32-byte challenge with \(algorithm.name)"
                    + (high ? " after the key's own login (High)" : ""))
        } catch {
            step("sign", false, error.reason, error)
            return report
        }
        do {
            let (publicKey, source) = try signer.publicKey()
            let valid = try SignatureVerification.isValid(
                signature, of: challenge, algorithm: algorithm, publicKey: publicKey)
            step(
                "verify", valid,
                valid
                    ? "the signature verifies with the \(source)"
                    : "the signature does NOT verify with the \(source): the key and its certificate do not match")
        } catch {
            step("verify", false, error.reason, error)
        }
        guard high else { return report }

        do {
            let probe = try signer.attemptUnapprovedUse()
            report.moduleLax = !probe.refused
            if probe.refused {
                step(
                    "refuse-unapproved", true,
                    "a signature without the key's login was refused by the token (\(probe.returnValue ?? "?"))"
                        + (probe.userLoginDropped
                            ? "; the module dropped the user login with it, CertBridge logs in again" : ""))
            } else {
                step(
                    "refuse-unapproved", true,
                    "the module is lax: it signed without the key's login; CertBridge enforces that login itself on every use"
                )
            }
        } catch {
            step("refuse-unapproved", false, error.reason, error)
        }
        do {
            let again = try signer.sign(challenge, algorithm: algorithm)
            let (publicKey, _) = try signer.publicKey()
            let valid = try SignatureVerification.isValid(
                again, of: challenge, algorithm: algorithm, publicKey: publicKey)
            step(
                "sign-again", valid,
                valid ? "the key signs again with its login after the refusal" : "a second signature did not verify")
        } catch {
            step("sign-again", false, error.reason, error)
        }
        return report
    }
}

extension KeyKind {
    /// The kind of a public key, for `verify`'s default algorithm.
    public init(publicKey: Certificate.PublicKey) throws(StoreError) {
        if let rsa = _RSA.Signing.PublicKey(publicKey) {
            self = .rsa(bits: rsa.keySizeInBits)
            return
        }
        if let nist = NISTKey(publicKey) {
            self = .ec(curve: nist.curve, bits: nist.bits)
            return
        }
        if Curve25519.Signing.PublicKey(publicKey) != nil {
            self = .edwards(curve: "Ed25519")
            return
        }
        throw StoreError(.failed, "a public key of a kind CertBridge cannot verify with")
    }
}
