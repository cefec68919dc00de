internal import PKCS11
import PKCS12
import SwiftASN1

/// An X.509 certificate as a token stores it: the attributes PKCS#11 applications index by.
/// Read with OpenSSL (the PKCS12 layer), which takes every key a certificate may carry;
/// swift-certificates refuses RSA keys under 2048 bits, and users still hold 1024-bit backups.
struct CertificateObject {
    let der: [UInt8]
    let certificate: PKCS12.Certificate

    init(der: [UInt8]) throws(StoreError) {
        do throws(PKCS12Error) {
            self.der = der
            certificate = try PKCS12.Certificate(der: der)
        } catch {
            throw StoreError(.failed, "a certificate could not be read: \(error)")
        }
    }

    /// The subject's common name, for labels.
    var commonName: String? { certificate.commonName }

    /// CKA_ID for the key this certificate certifies: SHA-1 of its RSA modulus or EC point, the
    /// same rule `KeyMaterial.id` follows.
    var keyID: [UInt8] { KeyMaterial.id(publicKey: publicKeyAttributes) }

    /// The certified public key as PKCS#11 attributes (CKA_MODULUS/CKA_PUBLIC_EXPONENT, or
    /// CKA_EC_POINT as a DER OCTET STRING), for matching key objects.
    var publicKeyAttributes: [Attribute] {
        // The subjectPublicKey BIT STRING's contents: an RSAPublicKey, or an EC point.
        let key = Self.subjectPublicKey(certificate.publicKeyInfo)
        if let rsa = try? RSAPublicKeyASN1(derEncoded: key) {
            return [Attribute(.modulus, bytes: rsa.modulus), Attribute(.publicExponent, bytes: rsa.exponent)]
        }
        var point = DER.Serializer()
        try? point.serialize(ASN1OctetString(contentBytes: ArraySlice(key)))
        return [Attribute(.ecPoint, bytes: point.serializedBytes)]
    }

    /// The C_CreateObject template.
    func template(label: String, id: [UInt8], category: CertificateCategory) throws(StoreError) -> [Attribute] {
        [
            Attribute(.certificate), Attribute(CertificateType.x509),
            Attribute(.token, true), Attribute(.private, false), Attribute(.label, string: label),
            Attribute(.id, bytes: id), Attribute(.value, bytes: der),
            Attribute(.subject, bytes: certificate.subjectDER), Attribute(.issuer, bytes: certificate.issuerDER),
            Attribute(.serialNumber, bytes: certificate.serialNumberDER),
            Attribute(.certificateCategory, ulong: category.rawValue),
        ]
    }

    /// The DER of the subject name (CKA_SUBJECT of the key objects).
    var subjectDER: [UInt8] { certificate.subjectDER }

    /// The contents of the subjectPublicKey BIT STRING of a SubjectPublicKeyInfo (RFC 5280 §4.1).
    static func subjectPublicKey(_ spki: [UInt8]) -> [UInt8] {
        guard let node = try? DER.parse(spki),
            let key = try? DER.sequence(
                node, identifier: .sequence,
                { nodes -> ASN1BitString in
                    _ = nodes.next()  // the AlgorithmIdentifier
                    return try ASN1BitString(derEncoded: &nodes)
                })
        else { return [] }
        return Array(key.bytes)
    }
}

/// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
struct RSAPublicKeyASN1: DERParseable {
    let modulus: [UInt8]
    let exponent: [UInt8]

    init(derEncoded node: ASN1Node) throws {
        (modulus, exponent) = try DER.sequence(node, identifier: .sequence) { nodes in
            let n = try ArraySlice<UInt8>(derEncoded: &nodes)
            let e = try ArraySlice<UInt8>(derEncoded: &nodes)
            return (Array(n.drop { $0 == 0 }), Array(e.drop { $0 == 0 }))
        }
    }
}
