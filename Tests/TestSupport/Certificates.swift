import PKCS11
import SwiftASN1
import X509

/// The C_CreateObject template for an X.509 certificate, with the DER names tokens index by.
public func certificateTemplate(der: [UInt8], label: String, id: [UInt8]) throws -> [Attribute] {
    let certificate = try Certificate(derEncoded: der)
    var subject = DER.Serializer()
    var issuer = DER.Serializer()
    try subject.serialize(certificate.subject)
    try issuer.serialize(certificate.issuer)
    return [
        Attribute(.certificate), Attribute(.certificateType, ulong: 0), Attribute(.token, true),
        Attribute(.label, string: label), Attribute(.id, bytes: id), Attribute(.value, bytes: der),
        Attribute(.subject, bytes: subject.serializedBytes), Attribute(.issuer, bytes: issuer.serializedBytes),
    ]
}
