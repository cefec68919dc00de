internal import COpenSSL
import FoundationEssentials

/// What a listing shows of a certificate: subject, issuer, serial and validity, read from the
/// TBSCertificate's own elements without decoding the public key. (`d2i_X509` in OpenSSL 3
/// decodes the key through the provider decoders and hashes the certificate for its extension
/// cache; on a token of thousands of certificates that was most of a listing's time.)
/// The text is the same as `Certificate`'s: the same OpenSSL calls on the same elements.
public struct CertificateFields: Hashable, Sendable {
    /// Subject as an RFC 4514 string, as `Certificate.subject`.
    public let subject: String
    /// Issuer as an RFC 4514 string.
    public let issuer: String
    /// Serial number in upper-case hex, as `Certificate.serialNumber`.
    public let serialNumber: String
    /// Validity start, as `Certificate.notBefore`.
    public let notBefore: Date
    /// Validity end, as `Certificate.notAfter`.
    public let notAfter: Date

    /// Reads the fields of one DER certificate; `PKCS12Error` `.corrupt` when it is not one.
    public init(der: [UInt8]) throws(PKCS12Error) {
        // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
        //   serialNumber, signature, issuer, validity SEQUENCE { notBefore, notAfter }, subject, … } … }
        var outer = DERWalker(der)
        guard var certificate = outer.enter(0x30), var tbs = certificate.enter(0x30) else { throw Self.corrupt() }
        if tbs.peek == 0xA0 { _ = tbs.next() }
        guard let serial = tbs.next(), serial.tag == 0x02, tbs.next() != nil,
            let issuer = tbs.next(), issuer.tag == 0x30, var validity = tbs.enter(0x30),
            let start = validity.next(), let end = validity.next(),
            let subject = tbs.next(), subject.tag == 0x30
        else { throw Self.corrupt() }
        guard let issuerText = Self.name(der[issuer.range]), let subjectText = Self.name(der[subject.range]),
            let serialText = Self.serial(der[serial.range]),
            let from = Self.time(der[start.range]), let to = Self.time(der[end.range])
        else { throw Self.corrupt() }
        self.subject = subjectText
        self.issuer = issuerText
        serialNumber = serialText
        notBefore = from
        notAfter = to
    }

    private static func corrupt() -> PKCS12Error {
        OpenSSLRuntime.error(.corrupt, "not a DER certificate", function: "d2i_X509_NAME")
    }

    private static func name(_ bytes: ArraySlice<UInt8>) -> String? {
        decode(bytes, { d2i_X509_NAME(nil, $0, $1) }, free: X509_NAME_free, Certificate.rfc4514)
    }

    private static func serial(_ bytes: ArraySlice<UInt8>) -> String? {
        decode(bytes, { d2i_ASN1_INTEGER(nil, $0, $1) }, free: ASN1_INTEGER_free) { Certificate.hex($0) }
    }

    private static func time(_ bytes: ArraySlice<UInt8>) -> Date? {
        decode(bytes, { d2i_ASN1_TIME(nil, $0, $1) }, free: ASN1_TIME_free) { Certificate.date($0) }
    }

    /// One DER element through an OpenSSL `d2i_*` function, `body` on the result, then freed.
    private static func decode<Value, Result>(
        _ bytes: ArraySlice<UInt8>,
        _ d2i: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> Value?,
        free: (Value) -> Void, _ body: (Value) -> Result?
    ) -> Result? {
        bytes.withUnsafeBufferPointer { buffer -> Result? in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let value = d2i(&pointer, buffer.count) else { return nil }
            defer { free(value) }
            return body(value)
        }
    }
}

/// Steps through DER elements: each `next()` is one whole TLV (its tag and byte range).
struct DERWalker {
    private let bytes: [UInt8]
    private var offset: Int
    private let end: Int

    init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        self.bytes = bytes
        offset = range?.lowerBound ?? 0
        end = range?.upperBound ?? bytes.count
    }

    var peek: UInt8? { offset < end ? bytes[offset] : nil }

    /// The next element: its tag and the range of the whole TLV.
    mutating func next() -> (tag: UInt8, range: Range<Int>, contents: Range<Int>)? {
        guard offset + 2 <= end else { return nil }
        let tag = bytes[offset]
        var length = Int(bytes[offset + 1])
        var header = 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, offset + 2 + count <= end else { return nil }
            length = bytes[(offset + 2)..<(offset + 2 + count)].reduce(0) { $0 << 8 | Int($1) }
            header += count
        }
        let start = offset
        let contentStart = offset + header
        guard length >= 0, contentStart + length <= end else { return nil }
        offset = contentStart + length
        return (tag, start..<offset, contentStart..<offset)
    }

    /// The next element, which must have `tag`, as a walker over its contents.
    mutating func enter(_ tag: UInt8) -> DERWalker? {
        guard let element = next(), element.tag == tag else { return nil }
        return DERWalker(bytes, range: element.contents)
    }
}
