import Crypto
import FoundationEssentials
import X509

/// swift-crypto gives P-256, P-384 and P-521 types of their own. These name what the store does
/// with a public key on any of them, so ECDSA verification and the encryption self-test's
/// ephemeral ECDH are each one path for the three curves.
protocol NISTPublicKey {
    /// The curve's ECDSA signature.
    associatedtype Signature: DERSignature
    /// The curve's key agreement private key.
    associatedtype AgreementKey: NISTAgreementKey
    /// The public point, X9.63.
    var x963Representation: Data { get }
    /// Checks a signature over a digest.
    func isValidSignature<D: Digest>(_ signature: Signature, for digest: D) -> Bool
}

/// An ECDSA signature read from DER.
protocol DERSignature {
    /// Parses a DER ECDSA-Sig-Value.
    init<D: DataProtocol>(derRepresentation: D) throws
}

/// A curve's key agreement private key, for an ephemeral ECDH.
protocol NISTAgreementKey: DiffieHellmanKeyAgreement where PublicKey: X963PublicKey {
    /// A fresh key.
    init(compactRepresentable: Bool)
}

/// A key agreement public key, read and written as an X9.63 point.
protocol X963PublicKey {
    /// Reads the point.
    init<Bytes: ContiguousBytes>(x963Representation: Bytes) throws
    /// The point.
    var x963Representation: Data { get }
}

/// A P-256, P-384 or P-521 public key, with its curve's name and size.
struct NISTKey {
    /// The key.
    let key: any NISTPublicKey
    /// The curve's name, e.g. "P-256".
    let curve: String
    /// The curve's size in bits.
    let bits: Int

    /// Bytes in one coordinate: a raw r‖s signature has twice as many.
    var coordinateBytes: Int { (bits + 7) / 8 }

    /// The key of a certificate, when it is on one of the three curves.
    init?(_ publicKey: Certificate.PublicKey) {
        if let key = P256.Signing.PublicKey(publicKey) {
            (self.key, curve, bits) = (key, "P-256", 256)
        } else if let key = P384.Signing.PublicKey(publicKey) {
            (self.key, curve, bits) = (key, "P-384", 384)
        } else if let key = P521.Signing.PublicKey(publicKey) {
            (self.key, curve, bits) = (key, "P-521", 521)
        } else {
            return nil
        }
    }
}

extension NISTPublicKey {
    /// A fresh ephemeral key on this curve agreed with this key: its public point (X9.63) and
    /// the shared secret.
    func ephemeralAgreement() throws -> (point: [UInt8], secret: [UInt8]) {
        let ephemeral = AgreementKey(compactRepresentable: true)
        let peer = try AgreementKey.PublicKey(x963Representation: x963Representation)
        let secret = try ephemeral.sharedSecretFromKeyAgreement(with: peer)
        return (Array(ephemeral.publicKey.x963Representation), secret.withUnsafeBytes { Array($0) })
    }
}

extension P256.Signing.PublicKey: NISTPublicKey { typealias AgreementKey = P256.KeyAgreement.PrivateKey }
extension P384.Signing.PublicKey: NISTPublicKey { typealias AgreementKey = P384.KeyAgreement.PrivateKey }
extension P521.Signing.PublicKey: NISTPublicKey { typealias AgreementKey = P521.KeyAgreement.PrivateKey }
extension P256.Signing.ECDSASignature: DERSignature {}
extension P384.Signing.ECDSASignature: DERSignature {}
extension P521.Signing.ECDSASignature: DERSignature {}
extension P256.KeyAgreement.PrivateKey: NISTAgreementKey {}
extension P384.KeyAgreement.PrivateKey: NISTAgreementKey {}
extension P521.KeyAgreement.PrivateKey: NISTAgreementKey {}
extension P256.KeyAgreement.PublicKey: X963PublicKey {}
extension P384.KeyAgreement.PublicKey: X963PublicKey {}
extension P521.KeyAgreement.PublicKey: X963PublicKey {}
