import Crypto
import FoundationEssentials
import PKCS12
import SwiftASN1
import X509
import _CryptoExtras

/// The organizational unit that marks CertBridge's placeholder certificate.
let placeholderMarker = "CertBridge placeholder: no certificate issued yet"

/// True for a certificate CertBridge made as a placeholder: self-signed, with the marker unit.
func isPlaceholderCertificate(_ der: [UInt8]) -> Bool {
    guard let certificate = try? X509.Certificate(derEncoded: der) else { return false }
    return certificate.subject == certificate.issuer && certificate.subject.description.contains(placeholderMarker)
}

extension Store {
    /// A self-signed certificate for a key that has none yet (an enrollment key pair), so its
    /// backup is a PFX every tool opens — what Windows writes for a pending request. It is signed
    /// in memory with the key that is being backed up anyway, and says what it is in its name.
    func placeholderCertificate(for key: PKCS12.PrivateKey, label: String) throws(StoreError) -> [UInt8] {
        do {
            // Signed with the key's default algorithm (swift-certificates): SHA-256 for RSA and
            // P-256, SHA-384 for P-384, SHA-512 for P-521, Ed25519 itself.
            let signingKey: X509.Certificate.PrivateKey = try key.withPKCS8 { raw in
                var der = Array(raw)
                defer { wipe(&der) }
                switch key.type {
                case .rsa: return .init(try _RSA.Signing.PrivateKey(derRepresentation: der))
                case .ec(.p256): return .init(try P256.Signing.PrivateKey(derRepresentation: der))
                case .ec(.p384): return .init(try P384.Signing.PrivateKey(derRepresentation: der))
                case .ec(.p521): return .init(try P521.Signing.PrivateKey(derRepresentation: der))
                case .edwards("Ed25519"):
                    // PKCS#8 for Ed25519 ends with the 32-byte key in an OCTET STRING.
                    return .init(try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32)))
                case .edwards(let curve):
                    throw StoreError(.failed, "no placeholder certificate can be made for an \(curve) key")
                }
            }
            let name = try DistinguishedName {
                CommonName(label.isEmpty ? "CertBridge enrollment key" : label)
                OrganizationalUnitName(placeholderMarker)
            }
            let now = Date()
            let certificate = try X509.Certificate(
                version: .v3, serialNumber: X509.Certificate.SerialNumber(), publicKey: signingKey.publicKey,
                notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(365 * 86_400),
                issuer: name, subject: name,
                extensions: try X509.Certificate.Extensions { Critical(BasicConstraints.notCertificateAuthority) },
                issuerPrivateKey: signingKey)
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return serializer.serializedBytes
        } catch {
            throw StoreError(.failed, "a placeholder certificate for \"\(label)\" could not be made: \(error)")
        }
    }
}
