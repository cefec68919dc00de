import CertStore
import Foundation
import TestSupport
import Testing

/// The CMS reader on its own: a pure function of bytes that reads what openssl writes and turns
/// anything else into an error, never a crash.
@Suite("CMS enveloped data reader")
struct CMSEnvelopeTests {
    @Test("openssl's RSA and EC enveloped data parse into their recipient kinds, content cipher and IV")
    func readsOpenSSLOutput() throws {
        let dir = try TemporaryDirectory()
        let message = try dir.write("m", "hello")
        for (kind, newkey) in [
            ("rsa", ["-newkey", "rsa:2048"]), ("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        ] {
            let cert = dir.file("\(kind).pem")
            _ = try run(
                "openssl",
                ["req", "-x509"] + newkey + [
                    "-nodes", "-keyout", dir.file("\(kind).key"), "-out", cert, "-subj", "/CN=\(kind)", "-days", "1",
                ])
            let out = dir.file("\(kind).der")
            let made = try run(
                "openssl",
                [
                    "cms", "-encrypt", "-binary", "-in", message, "-out", out, "-outform", "DER", "-aes-128-cbc",
                    "-recip", cert,
                ])
            try #require(made.status == 0, "\(made.stderr)")
            let envelope = try CMSEnvelope.parse(der: [UInt8](try Data(contentsOf: URL(fileURLWithPath: out))))
            #expect(envelope.contentAlgorithm == "2.16.840.1.101.3.4.1.2")
            #expect(envelope.iv.count == 16)
            #expect(!envelope.authenticated)
            switch envelope.recipients.first {
            case .keyTransport(let entry)?: #expect(kind == "rsa" && entry.encryptedKey.count == 256)
            case .keyAgreement(let entry)?:
                #expect(kind == "ec" && entry.originatorKey?.count == 65 && entry.keys.count == 1)
            default: Issue.record("no recipient parsed for \(kind)")
            }
        }
    }

    @Test("garbage, truncation, another content type and deep nesting are errors, not crashes")
    func refusesMalformedInput() throws {
        var deep: [UInt8] = [0x04, 0x00]
        for _ in 0..<200 { deep = [0x30, 0x80] + deep + [0x00, 0x00] }
        let signedData: [UInt8] = [
            0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02, 0xA0, 0x00,
        ]
        for input in [[], [0x30], [0x30, 0x03, 0x02, 0x01], Array("not cms at all".utf8), deep, signedData] as [[UInt8]]
        {
            #expect(throws: StoreError.self) { try CMSEnvelope.read(input) }
        }
    }
}
