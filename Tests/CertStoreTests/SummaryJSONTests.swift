import Foundation
import TestSupport
import Testing

@testable import CertStore
@testable import PKCS11

/// `ObjectSummary.prettyJSON` writes what JSONEncoder writes (the CLI's `--json` settings),
/// byte for byte, for every field and for the strings a token or certificate can hold.
@Suite("object summaries as JSON without JSONEncoder")
struct SummaryJSONTests {
    static func encoded(_ summary: ObjectSummary) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(summary), as: UTF8.self)
    }

    /// A certificate made by openssl, summarised as a listing summarises it.
    static func certificate(subject: String) throws -> CertificateSummary {
        let dir = try TemporaryDirectory()
        let made = try run(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                dir.file("key.pem"), "-subj", subject, "-days", "30", "-outform", "DER", "-out", dir.file("cert.der"),
            ])
        try #require(made.status == 0, "\(made.stderr)")
        return try CertificateSummary(der: Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("cert.der")))))
    }

    static func summaries() throws -> [ObjectSummary] {
        var key = ObjectSummary(
            uri: "pkcs11:token=t;object=k%20%2F;type=private", class: "private-key", label: "k /", id: "01")
        key.keyType = "RSA"
        key.keyBits = 2048
        var flags = KeyFlags(AttributeValues([:]))
        flags.sensitive = true
        flags.extractable = false
        flags.alwaysAuthenticate = true
        flags.neverExtractable = true
        flags.alwaysSensitive = false
        flags.local = true
        flags.private = true
        flags.ownPassword = true
        flags.approval = 2
        flags.triesLeft = 3
        key.flags = flags
        key.verdict = "non-exportable"
        key.verdictReason = "CKA_SENSITIVE=true"
        key.securityLevel = .high
        key.usage = ["sign", "decrypt"]
        key.pairedWith = "cert"

        var bare = ObjectSummary(uri: "pkcs11:token=t", class: "secret-key", label: "", id: "")
        bare.flags = KeyFlags(AttributeValues([:]))
        bare.usage = []
        bare.curve = "unknown (06082a)"

        var odd = ObjectSummary(
            uri: "pkcs11:token=t", class: "data",
            label:
                "quote \" backslash \\ slash / tab \t nl \n cr \r bs \u{08} ff \u{0C} nul \u{00} us \u{1F} del \u{7F} é 日本",
            id: "ff")
        odd.pairedWith = ""

        var certificate = ObjectSummary(uri: "pkcs11:token=t;type=cert", class: "certificate", label: "c", id: "02")
        var fields = try Self.certificate(subject: "/CN=Ünïcode, \"quoted\"/O=Example\\/Slash")
        fields.category = "authority"
        certificate.certificate = fields
        var uncategorised = certificate
        uncategorised.certificate?.category = nil
        uncategorised.certificate?.notBefore = Date(timeIntervalSince1970: 1_700_000_000.75)
        uncategorised.certificate?.notAfter = Date(timeIntervalSince1970: 4_102_444_800)
        return [key, bare, odd, certificate, uncategorised]
    }

    @Test("every field, nil and empty ones, escapes and dates: the same text as JSONEncoder")
    func sameAsEncoder() throws {
        for summary in try Self.summaries() {
            #expect(summary.prettyJSON() == (try Self.encoded(summary)), "\(summary.label)")
        }
    }

    @Test("with an indent, every line after the first is indented by it")
    func indented() throws {
        let summary = try Self.summaries()[0]
        let expected = try Self.encoded(summary).split(separator: "\n", omittingEmptySubsequences: false)
            .joined(separator: "\n    ")
        #expect(summary.prettyJSON(indent: 4) == expected)
    }
}
