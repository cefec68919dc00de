import PKCS11
import SwiftASN1
import X509

/// An X.509 certificate as a token stores it: the attributes PKCS#11 applications index by.
struct CertificateObject {
    let der: [UInt8]
    let certificate: Certificate

    init(der: [UInt8]) throws(StoreError) {
        do {
            self.der = der
            certificate = try Certificate(derEncoded: der)
        } catch {
            throw StoreError(.failed, "a certificate could not be read: \(error)")
        }
    }

    /// The subject's common name, for labels.
    var commonName: String? {
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return attribute.value.description
            }
        }
        return nil
    }

    /// CKA_ID for the key this certificate certifies: SHA-1 of its RSA modulus or EC point, the
    /// same rule `KeyMaterial.id` follows.
    var keyID: [UInt8] { KeyMaterial.id(publicKey: publicKeyAttributes) }

    /// The certified public key as PKCS#11 attributes (CKA_MODULUS/CKA_PUBLIC_EXPONENT, or
    /// CKA_EC_POINT as a DER OCTET STRING), for matching key objects.
    var publicKeyAttributes: [Attribute] {
        // The subjectPublicKey BIT STRING's contents: an RSAPublicKey, or an EC point.
        let key = Array(certificate.publicKey.subjectPublicKeyInfoBytes)
        if let rsa = try? RSAPublicKeyASN1(derEncoded: key) {
            return [Attribute(.modulus, bytes: rsa.modulus), Attribute(.publicExponent, bytes: rsa.exponent)]
        }
        var point = DER.Serializer()
        try? point.serialize(ASN1OctetString(contentBytes: ArraySlice(key)))
        return [Attribute(.ecPoint, bytes: point.serializedBytes)]
    }

    /// The C_CreateObject template.
    func template(label: String, id: [UInt8], category: CertificateCategory) throws(StoreError) -> [Attribute] {
        do {
            var subject = DER.Serializer(), issuer = DER.Serializer(), serial = DER.Serializer()
            try subject.serialize(certificate.subject)
            try issuer.serialize(certificate.issuer)
            try serial.serialize(ArraySlice(certificate.serialNumber.bytes))
            return [Attribute(.certificate), Attribute(.certificateType, ulong: 0 /* CKC_X_509 */),
                    Attribute(.token, true), Attribute(.private, false), Attribute(.label, string: label),
                    Attribute(.id, bytes: id), Attribute(.value, bytes: der),
                    Attribute(.subject, bytes: subject.serializedBytes), Attribute(.issuer, bytes: issuer.serializedBytes),
                    Attribute(.serialNumber, bytes: serial.serializedBytes),
                    Attribute(.certificateCategory, ulong: category.rawValue)]
        } catch {
            throw StoreError(.failed, "a certificate's names could not be encoded: \(error)")
        }
    }

    /// The DER of the subject name (CKA_SUBJECT of the key objects).
    var subjectDER: [UInt8] {
        var subject = DER.Serializer()
        try? subject.serialize(certificate.subject)
        return subject.serializedBytes
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
