import FoundationEssentials
import Glibc
internal import PKCS11
import SwiftASN1
import X509

/// PKCS#10 requests signed by a key that stays on its token.
public enum CertificateRequest {
    /// A CSR for `subject` ("CN=Alice,O=Example,C=DE", most specific first as RFC 4514 writes
    /// it) with subjectAltNames (`DNS:host`, `email:a@b`, `IP:192.0.2.1`; a bare name is DNS),
    /// signed on the token through `signer`, asking for the keyUsage that fits `usage`. Returns PEM.
    public static func make(
        subject: String, subjectAlternativeNames: [String], signer: Signer, usage: KeyUsage = .signing
    ) throws(StoreError) -> String {
        let name = try distinguishedName(subject)
        let key = try TokenPrivateKey(signer)
        do {
            let isRSA = if case .rsa = signer.key.kind { true } else { false }
            var extensions = try Certificate.Extensions { Critical(usage.requestedExtension(rsa: isRSA)) }
            if !subjectAlternativeNames.isEmpty {
                try extensions.append(
                    Certificate.Extension(
                        SubjectAlternativeNames(subjectAlternativeNames.map(generalName)), critical: false))
            }
            let attributes = CertificateSigningRequest.Attributes([
                try CertificateSigningRequest.Attribute(ExtensionRequest(extensions: extensions))
            ])
            let request = try CertificateSigningRequest(
                version: .v1, subject: name, privateKey: Certificate.PrivateKey(key),
                attributes: attributes, signatureAlgorithm: key.defaultSignatureAlgorithm)
            return try request.serializeAsPEM().pemString + "\n"
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.failed, "the certificate request could not be made: \(error)")
        }
    }

    /// Parses "CN=Alice,O=Example,C=DE" (RFC 4514 order, `\,` escapes a comma).
    static func distinguishedName(_ text: String) throws(StoreError) -> DistinguishedName {
        var parts: [String] = []
        var current = ""
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "," {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        var rdns: [RelativeDistinguishedName] = []
        for part in parts {
            let pair = part.split(separator: "=", maxSplits: 1).map {
                String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
            }
            guard pair.count == 2, !pair[1].isEmpty else {
                throw StoreError(
                    .usage, "the subject part \"\(part)\" is not of the form TYPE=value (e.g. CN=Alice,O=Example,C=DE)")
            }
            let type: ASN1ObjectIdentifier
            switch pair[0].uppercased() {
            case "CN": type = .RDNAttributeType.commonName
            case "O": type = .RDNAttributeType.organizationName
            case "OU": type = .RDNAttributeType.organizationalUnitName
            case "C": type = .RDNAttributeType.countryName
            case "L": type = .RDNAttributeType.localityName
            case "ST", "S": type = .RDNAttributeType.stateOrProvinceName
            case "STREET": type = .RDNAttributeType.streetAddress
            case "E", "EMAILADDRESS": type = [1, 2, 840, 113549, 1, 9, 1]
            case "DC": type = .RDNAttributeType.domainComponent
            default:
                throw StoreError(
                    .usage, "the subject attribute \"\(pair[0])\" is not one of CN, O, OU, C, L, ST, STREET, E, DC")
            }
            do {
                let value: RelativeDistinguishedName.Attribute
                // X.520 and PKCS#9 fix the string type for these; the rest take UTF-8.
                if type == .RDNAttributeType.countryName {
                    value = try .init(type: type, printableString: pair[1])
                } else if type == [1, 2, 840, 113549, 1, 9, 1] || type == .RDNAttributeType.domainComponent {
                    value = try .init(type: type, ia5String: pair[1])
                } else {
                    value = .init(type: type, utf8String: pair[1])
                }
                rdns.append(RelativeDistinguishedName(value))
            } catch {
                throw StoreError(.usage, "the subject value \"\(pair[1])\" cannot be encoded for \(pair[0])")
            }
        }
        // RFC 4514 writes the most specific name first; the DER sequence puts it last.
        return DistinguishedName(rdns.reversed())
    }

    static func generalName(_ text: String) throws -> GeneralName {
        let pair = text.split(separator: ":", maxSplits: 1).map(String.init)
        let (kind, value) = pair.count == 2 ? (pair[0].uppercased(), pair[1]) : ("DNS", text)
        switch kind {
        case "DNS": return .dnsName(value)
        case "EMAIL": return .rfc822Name(value)
        case "URI": return .uniformResourceIdentifier(value)
        case "IP":
            var v4 = in_addr()
            var v6 = in6_addr()
            if inet_pton(AF_INET, value, &v4) == 1 {
                return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(withUnsafeBytes(of: &v4) { Array($0) })))
            }
            if inet_pton(AF_INET6, value, &v6) == 1 {
                return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(withUnsafeBytes(of: &v6) { Array($0) })))
            }
            throw StoreError(.usage, "\"\(value)\" is not an IP address")
        default:
            throw StoreError(.usage, "subjectAltName \"\(text)\": use DNS:, email:, URI: or IP:")
        }
    }
}
