import FoundationEssentials
internal import PKCS11
import SwiftASN1
import X509

/// A token key as swift-certificates' `CustomPrivateKey`, so a CSR or certificate can be signed
/// with `Certificate.PrivateKey(TokenPrivateKey(signer))` while the key stays on its token. A
/// High-level key asks its password for every signature, like any other use.
public struct TokenPrivateKey: CustomPrivateKey {
    /// The signer that reaches the key on its token.
    public let signer: Signer
    /// The key's public half, as read from the token or its certificate.
    public let publicKey: Certificate.PublicKey

    /// Wraps a signer; the public key comes from the key's certificate or public key object.
    public init(_ signer: Signer) throws(StoreError) {
        self.signer = signer
        publicKey = try signer.publicKey().key.certificateKey(for: "Signing a certificate or CSR")
    }

    /// The algorithm CSRs and certificates are signed with by default.
    public var defaultSignatureAlgorithm: Certificate.SignatureAlgorithm {
        switch signer.key.kind.defaultAlgorithm {
        case .ecdsa(.sha384): .ecdsaWithSHA384
        case .ecdsa(.sha512): .ecdsaWithSHA512
        case .ecdsa: .ecdsaWithSHA256
        case .eddsa: .ed25519
        default: .sha256WithRSAEncryption
        }
    }

    /// The algorithms this key can sign with.
    public var supportedSignatureAlgorithms: [Certificate.SignatureAlgorithm] {
        switch signer.key.kind {
        case .rsa: [.sha256WithRSAEncryption, .sha384WithRSAEncryption, .sha512WithRSAEncryption]
        case .ec: [.ecdsaWithSHA256, .ecdsaWithSHA384, .ecdsaWithSHA512]
        case .edwards: [.ed25519]
        }
    }

    /// Signs on the token. X.509 has no RSA-PSS here, so only PKCS#1 v1.5, ECDSA and Ed25519.
    public func signSynchronously(bytes: some DataProtocol, signatureAlgorithm: Certificate.SignatureAlgorithm) throws
        -> Certificate.Signature
    {
        let algorithm: SignatureAlgorithm
        switch signatureAlgorithm {
        case .sha256WithRSAEncryption: algorithm = .rsaPKCS1(.sha256)
        case .sha384WithRSAEncryption: algorithm = .rsaPKCS1(.sha384)
        case .sha512WithRSAEncryption: algorithm = .rsaPKCS1(.sha512)
        case .ecdsaWithSHA256: algorithm = .ecdsa(.sha256)
        case .ecdsaWithSHA384: algorithm = .ecdsa(.sha384)
        case .ecdsaWithSHA512: algorithm = .ecdsa(.sha512)
        case .ed25519: algorithm = .eddsa
        default: throw StoreError(.usage, "a token key cannot make \(signatureAlgorithm) signatures")
        }
        let signature = try signer.sign(Array(bytes), algorithm: algorithm, format: .der)
        return try Certificate.Signature(
            signatureAlgorithm: signatureAlgorithm, signatureBytes: ASN1BitString(bytes: signature[...]))
    }

    /// Equal when both use the same signer.
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.signer === rhs.signer }
    /// Hashes the signer's identity.
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(signer)) }

    // A key that never leaves its token has no PEM or DER form.
    /// Required by `PEMSerializable`; a token key is never serialized.
    public static var defaultPEMDiscriminator: String { "PRIVATE KEY" }
    /// Always throws: the key never leaves the token.
    public func serialize(into coder: inout DER.Serializer) throws {
        throw StoreError(.notExportable, "key \"\(signer.key.label)\" stays on its token; it has no PEM or DER form")
    }
}
