import Crypto
import Foundation
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
            let (signingKey, algorithm): (X509.Certificate.PrivateKey, X509.Certificate.SignatureAlgorithm) =
                try key.withPKCS8 { raw in
                    var der = Array(raw)
                    defer { wipe(&der) }
                    switch key.type {
                    case .rsa:
                        return (
                            X509.Certificate.PrivateKey(try _RSA.Signing.PrivateKey(derRepresentation: der)),
                            .sha256WithRSAEncryption
                        )
                    case .ec(.p256):
                        return (
                            X509.Certificate.PrivateKey(try P256.Signing.PrivateKey(derRepresentation: der)),
                            .ecdsaWithSHA256
                        )
                    case .ec(.p384):
                        return (
                            X509.Certificate.PrivateKey(try P384.Signing.PrivateKey(derRepresentation: der)),
                            .ecdsaWithSHA384
                        )
                    case .ec(.p521):
                        return (
                            X509.Certificate.PrivateKey(try P521.Signing.PrivateKey(derRepresentation: der)),
                            .ecdsaWithSHA512
                        )
                    case .edwards("Ed25519"):
                        // PKCS#8 for Ed25519 ends with the 32-byte key in an OCTET STRING.
                        return (
                            X509.Certificate.PrivateKey(
                                try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))), .ed25519
                        )
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
                issuer: name, subject: name, signatureAlgorithm: algorithm,
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
