import PKCS12
import Testing

/// Wrong passwords and damaged files fail before anything is returned, with the documented code:
/// unparsable → corrupt; MAC fails and nothing decrypts → wrongPassword; MAC fails but the
/// password decrypts the contents → corrupt.
@Suite struct PasswordAndDamageTests {
    let pki = TestPKI.shared

    @Test(
        "a wrong password is wrongPassword, for modern, legacy and MAC-less files",
        arguments: [
            [String](), ["-legacy"], ["-nomac"],
        ])
    func wrongPassword(options: [String]) throws {
        let pfx = try pki.exportPFX(.p256, options: options)
        #expect(throws: PKCS12Error.wrongPassword) { try PFX.open(pfx, password: Secret(utf8: "Secret")) }
        #expect(throws: PKCS12Error.wrongPassword) { try PFX.open(pfx, password: .empty) }
    }

    @Test("a password-protected file given a password where it has none is wrongPassword")
    func passwordWhereNoneIsSet() throws {
        let pfx = try pki.exportPFX(.p256, password: "")
        #expect(throws: PKCS12Error.wrongPassword) { try PFX.open(pfx, password: Secret(utf8: "secret")) }
    }

    @Test("the reason never contains the password")
    func reasonHidesPassword() throws {
        let pfx = try pki.exportPFX(.p256)
        do {
            _ = try PFX.open(pfx, password: Secret(utf8: "hunter2-guess"))
            Issue.record("opened with a wrong password")
        } catch {
            #expect(error.code == .wrongPassword)
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test("a truncated file is corrupt, wherever it is cut", arguments: [1, 10, 200, 600])
    func truncated(cut: Int) throws {
        let pfx = try pki.exportPFX(.rsa2048)
        #expect(throws: PKCS12Error.corrupt) {
            try PFX.open(Array(pfx.dropLast(cut)), password: Secret(utf8: "secret"))
        }
    }

    @Test("bytes that are no PFX are corrupt")
    func notAPFX() throws {
        let pem = try pki.bytes("root.pem")
        #expect(throws: PKCS12Error.corrupt) { try PFX.open(pem, password: Secret(utf8: "secret")) }
        #expect(throws: PKCS12Error.corrupt) { try PFX.open([], password: .empty) }
        #expect(throws: PKCS12Error.corrupt) { try PFX.inspect(pem) }
    }

    /// A flipped byte in encrypted data leaves the DER intact, so only the MAC notices. With the
    /// right password another part still decrypts, which proves the password: corrupt.
    @Test(
        "a flipped byte with the right password is corrupt; with a wrong one, wrongPassword",
        arguments: [[String](), ["-legacy"]])
    func flippedByte(options: [String]) throws {
        let pfx = try pki.exportPFX(.rsa2048, options: options)
        for position in [pfx.count / 3, pfx.count / 2, pfx.count * 2 / 3] {
            var damaged = pfx
            damaged[position] ^= 0x01
            #expect(throws: PKCS12Error.corrupt, "flip at \(position)") {
                try PFX.open(damaged, password: Secret(utf8: "secret"))
            }
            #expect(throws: PKCS12Error.self, "flip at \(position)") {
                try PFX.open(damaged, password: Secret(utf8: "wrong"))
            }
        }
    }

    @Test("a flipped byte in the MAC value itself is corrupt with the right password")
    func flippedMAC() throws {
        let pfx = try pki.exportPFX(.p256)
        var damaged = pfx
        // The MacData sits at the end: digest, then an 8-byte salt and the iteration INTEGER.
        damaged[pfx.count - 20] ^= 0x80
        #expect(throws: PKCS12Error.corrupt) { try PFX.open(damaged, password: Secret(utf8: "secret")) }
        #expect(throws: PKCS12Error.wrongPassword) { try PFX.open(damaged, password: Secret(utf8: "wrong")) }
    }
}
