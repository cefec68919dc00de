internal import COpenSSL
import FoundationEssentials
import Synchronization

/// An X.509 certificate with the fields a token and a person need, parsed once by OpenSSL.
///
/// A plain value: it keeps the DER and decoded fields, no OpenSSL object.
public struct Certificate: Hashable, Sendable, CustomStringConvertible {
    /// The whole certificate, DER (CKA_VALUE).
    public let der: [UInt8]
    /// Subject as an RFC 4514 string (UTF-8, most specific attribute first), `X509_NAME_print_ex`.
    public let subject: String
    /// Issuer as an RFC 4514 string.
    public let issuer: String
    /// DER of the subject Name (CKA_SUBJECT), `i2d_X509_NAME`.
    public let subjectDER: [UInt8]
    /// DER of the issuer Name (CKA_ISSUER).
    public let issuerDER: [UInt8]
    /// Serial number in upper-case hex, without leading zeros, `BN_bn2hex`.
    public let serialNumber: String
    /// Serial number as a DER INTEGER (CKA_SERIAL_NUMBER), `i2d_ASN1_INTEGER`.
    public let serialNumberDER: [UInt8]
    /// Validity start, `X509_get0_notBefore`.
    public let notBefore: Date
    /// Validity end, `X509_get0_notAfter`.
    public let notAfter: Date
    /// SubjectPublicKeyInfo DER, `i2d_X509_PUBKEY`.
    public let publicKeyInfo: [UInt8]
    /// The subject's first commonName, UTF-8, if any.
    public let commonName: String?
    /// Whether basicConstraints says CA (`X509_get_extension_flags` & EXFLAG_CA).
    public let isCA: Bool

    /// The subject.
    public var description: String { subject }

    /// Parses one DER certificate (`d2i_X509`), or gives the value parsed from the same DER
    /// before (`recent`).
    public init(der: [UInt8]) throws(PKCS12Error) {
        if let parsed = Self.recent.withLock({ $0[der] }) {
            self = parsed
            return
        }
        try self.init(handle: X509Handle(der: der))
    }

    /// The certificates this process parsed last, by DER. An import reads each certificate at
    /// several steps (the backup, the chain, the token template), and OpenSSL 3.0 builds a
    /// decoder for the public key at every `d2i_X509` (about 0.2 ms); a value is the same
    /// value whenever its DER is. Public data only, and at most `recentLimit` of them.
    private static let recent = Mutex<[[UInt8]: Certificate]>([:])
    private static let recentLimit = 32

    private static func remember(_ certificate: Certificate) {
        recent.withLock { recent in
            if recent.count >= recentLimit { recent.removeAll(keepingCapacity: true) }
            recent[certificate.der] = certificate
        }
    }

    init(handle: X509Handle) throws(PKCS12Error) {
        let x509 = handle.pointer
        guard let subjectName = X509_get_subject_name(x509), let issuerName = X509_get_issuer_name(x509),
            let serial = X509_get0_serialNumber(x509),
            let notBefore = X509_get0_notBefore(x509), let notAfter = X509_get0_notAfter(x509),
            let publicKey = X509_get_X509_PUBKEY(x509)
        else { throw OpenSSLRuntime.error(.corrupt, "incomplete certificate", function: "X509_get_subject_name") }
        der = handle.der
        subject = Self.rfc4514(subjectName)
        issuer = Self.rfc4514(issuerName)
        subjectDER = OpenSSLRuntime.der { i2d_X509_NAME(subjectName, $0) } ?? []
        issuerDER = OpenSSLRuntime.der { i2d_X509_NAME(issuerName, $0) } ?? []
        serialNumberDER = OpenSSLRuntime.der { i2d_ASN1_INTEGER(serial, $0) } ?? []
        serialNumber = Self.hex(serial)
        guard let start = Self.date(notBefore), let end = Self.date(notAfter) else {
            throw OpenSSLRuntime.error(.corrupt, "unreadable validity dates", function: "ASN1_TIME_to_tm")
        }
        self.notBefore = start
        self.notAfter = end
        publicKeyInfo = OpenSSLRuntime.der { i2d_X509_PUBKEY(publicKey, $0) } ?? []
        commonName = Self.commonName(subjectName)
        isCA = X509_get_extension_flags(x509) & UInt32(EXFLAG_CA) != 0
        guard !der.isEmpty, !subjectDER.isEmpty, !publicKeyInfo.isEmpty else {
            throw OpenSSLRuntime.error(.corrupt, "certificate does not re-encode", function: "i2d_X509")
        }
        Self.remember(self)
    }

    /// Parses every certificate in a file: one DER certificate, or PEM with one or more
    /// `CERTIFICATE` blocks (`PEM_read_bio_X509`). Other PEM blocks are skipped.
    public static func parseAll(_ bytes: [UInt8]) throws(PKCS12Error) -> [Certificate] {
        OpenSSLRuntime.ensureLoaded()
        let pemMarker = Array("-----BEGIN".utf8)
        let isPEM =
            bytes.count >= pemMarker.count
            && (0...(bytes.count - pemMarker.count)).contains {
                bytes[$0..<$0 + pemMarker.count].elementsEqual(pemMarker)
            }
        guard isPEM else { return [try Certificate(der: bytes)] }
        var handles: [X509Handle] = []
        bytes.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return }
            defer { BIO_free(bio) }
            while let x509 = PEM_read_bio_X509(bio, nil, nil, nil) {
                handles.append(X509Handle(owning: x509))
            }
        }
        // The loop ends on "no more PEM" (expected) or on a damaged block (an error).
        let lastError = ERR_peek_last_error()
        let endOfInput = ERR_GET_LIB(lastError) == ERR_LIB_PEM && ERR_GET_REASON(lastError) == PEM_R_NO_START_LINE
        if lastError != 0 && !endOfInput {
            throw OpenSSLRuntime.error(.corrupt, "damaged PEM certificate", function: "PEM_read_bio_X509")
        }
        ERR_clear_error()
        guard !handles.isEmpty else {
            throw PKCS12Error(.corrupt, "no CERTIFICATE block in the PEM input")
        }
        var certificates: [Certificate] = []
        for handle in handles { certificates.append(try Certificate(handle: handle)) }
        return certificates
    }

    /// Whether `publicKeyInfo` (SPKI DER) is this certificate's public key (`EVP_PKEY_eq`).
    public func matches(publicKeyInfo other: [UInt8]) -> Bool {
        PublicKeyInfo.same(publicKeyInfo, other)
    }

    /// Whether `issuer` issued this certificate: names chain and its key verifies the signature
    /// (`X509_check_issued`, `X509_verify`).
    public func isIssued(by issuer: Certificate) -> Bool {
        guard let child = try? X509Handle(der: der), let parent = try? X509Handle(der: issuer.der) else { return false }
        return Self.isIssued(child, by: parent)
    }

    /// Whether the subject issued itself (a root or a self-signed leaf).
    public var isSelfIssued: Bool { subjectDER == issuerDER }

    static func isIssued(_ child: X509Handle, by parent: X509Handle) -> Bool {
        defer { ERR_clear_error() }
        guard X509_check_issued(parent.pointer, child.pointer) == X509_V_OK else { return false }
        guard let key = X509_get0_pubkey(parent.pointer) else { return false }
        return X509_verify(child.pointer, key) == 1
    }

    static func rfc4514(_ name: OpaquePointer) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        // RFC 2253 flags escape every byte above 0x7F; RFC 4514 allows UTF-8 as is, and people
        // should read "Zoë", not "Zo\C3\AB".
        let flags = CB_XN_FLAG_RFC2253() & ~UInt(ASN1_STRFLGS_ESC_MSB)
        guard X509_NAME_print_ex(bio, name, 0, flags) >= 0 else { return "" }
        return OpenSSLRuntime.string(of: bio)
    }

    static func hex(_ serial: UnsafePointer<ASN1_INTEGER>) -> String {
        guard let bn = ASN1_INTEGER_to_BN(serial, nil) else { return "" }
        defer { BN_free(bn) }
        guard let text = BN_bn2hex(bn) else { return "" }
        defer { CB_OPENSSL_free(text) }
        return String(cString: text)
    }

    static func date(_ time: UnsafePointer<ASN1_TIME>) -> Date? {
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    private static func commonName(_ name: OpaquePointer) -> String? {
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index),
            let data = X509_NAME_ENTRY_get_data(entry)
        else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>? = nil
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { CB_OPENSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }
}
