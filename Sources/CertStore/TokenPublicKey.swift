import X509

import enum PKCS12.PublicKeyInfo

/// The public half of a token key, as CertBridge checks signatures and encrypts with it: its
/// SubjectPublicKeyInfo, its kind, and swift-certificates' view of it where swift-certificates
/// has one. It has none for Ed448, so EdDSA is checked with OpenSSL (`SignatureVerification`).
public struct TokenPublicKey: Sendable, Hashable {
    /// SubjectPublicKeyInfo DER.
    public let spki: [UInt8]
    /// RSA with its size, EC with its curve, or an Edwards curve.
    public let kind: KeyKind
    /// swift-certificates' view (RSA, P-256/384/521, Ed25519); nil for Ed448.
    public let certificateKey: Certificate.PublicKey?

    /// Reads a SubjectPublicKeyInfo. RSA keys of 1024 bits and more are taken (swift-crypto's
    /// checked initializers stop at 2048), since backups hold them.
    public init(spki: [UInt8]) throws(StoreError) {
        self.spki = spki
        if PublicKeyInfo.edwardsCurve(of: spki) == "Ed448" {
            kind = .edwards(curve: "Ed448")
            certificateKey = nil
            return
        }
        let key: Certificate.PublicKey
        do {
            key = try Store.publicKey(spki: spki)
        } catch {
            throw StoreError(.failed, "the public key does not parse: \(error)")
        }
        certificateKey = key
        kind = try KeyKind(publicKey: key)
    }

    /// swift-certificates' view, for a use that needs it (`what`, e.g. "signing a CSR"); an
    /// Ed448 key is refused with one sentence.
    public func certificateKey(for what: String) throws(StoreError) -> Certificate.PublicKey {
        guard let certificateKey else {
            throw StoreError(
                .usage, "\(what) is not possible with an \(kind.description) key (swift-certificates has no Ed448)")
        }
        return certificateKey
    }
}
