import CertStore
import Testing

/// A PKCS#11 URI's `pin-source` (RFC 7512) read as a secret source.
@Suite("pin-source in a URI")
struct URIPINSourceTests {
    @Test(
        "the --pin-source forms and RFC 7512's local file URIs parse to the same sources",
        arguments: [
            ("file:/etc/pin", "file:/etc/pin"), ("file:///etc/pin", "file:/etc/pin"),
            ("file://localhost/etc/pin", "file:/etc/pin"),
            ("env:TOKEN_PIN", "env:TOKEN_PIN"), ("fd:3", "fd:3"), ("tty", "tty"), ("file:pin.txt", "file:pin.txt"),
        ])
    func parses(text: String, expected: String) throws {
        #expect(try SecretSource(uriPINSource: text).description == expected)
    }

    @Test(
        "a program (|/bin/cat), another host's file, or a PIN itself is refused as a usage error",
        arguments: [
            "|/bin/cat", "file://elsewhere/etc/pin", "1234", "argv:1234",
        ])
    func refuses(text: String) {
        let error = #expect(throws: StoreError.self) { _ = try SecretSource(uriPINSource: text) }
        #expect(error?.code == .usage)
    }
}
