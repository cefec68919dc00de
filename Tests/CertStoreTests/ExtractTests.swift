import Foundation
import PKCS11
import TestSupport
import Testing

@testable import CertStore

/// Taking exportable keys off real tokens (SoftHSM2 and the software token), and refusing the rest.
@Suite("extracting keys")
struct ExtractTests {
    func importFixture(_ fixture: ImportTests.Fixture, exportable: Bool, into test: TestToken) throws -> (
        Store, PKCS11URI
    ) {
        let store = try Store(modulePaths: [test.module.path])
        var options = ImportOptions()
        options.exportable = exportable
        options.label = "k"
        _ = try store.importItem(fixture.item, to: try test.storeToken(), options: options, pin: { _ in test.pin })
        return (store, try PKCS11URI("pkcs11:token=\(test.label);object=k"))
    }

    /// The public half of a key, as openssl derives it.
    func publicKey(_ path: String, der: Bool = false) throws -> String {
        try run("openssl", ["pkey", "-in", path] + (der ? ["-inform", "DER"] : []) + ["-pubout"]).stdout
    }

    @Test("an exportable key comes off as the same key, by AES key wrap", arguments: TokenFixtures.all, [false, true])
    func exportable(token: any TokenFixture, ec: Bool) throws {
        let fixture = try ImportTests.Fixture.make(ec: ec)
        let test = try token.freshToken()
        let (store, uri) = try importFixture(fixture, exportable: true, into: test)
        let key = try store.privateKey(uri, pin: { _ in test.pin })
        let pkcs8 = try store.extractPrivateKey(key)
        let file = fixture.dir.file("extracted.der")
        try Data(pkcs8).write(to: URL(fileURLWithPath: file))
        let original = try fixture.dir.write("original.pem", fixture.keyPEM)
        #expect(try publicKey(file, der: true) == publicKey(original))
        #expect(!(try publicKey(original)).isEmpty)
        #expect(try store.exportability(of: uri, pin: { _ in test.pin }).exportable)
    }

    @Test("a non-exportable key is refused by us, and by the token when asked directly", arguments: TokenFixtures.all)
    func nonExportable(token: any TokenFixture) throws {
        let fixture = try ImportTests.Fixture.make()
        let test = try token.freshToken()
        let (store, uri) = try importFixture(fixture, exportable: false, into: test)
        let key = try store.privateKey(uri, pin: { _ in test.pin })
        let error = #expect(throws: StoreError.self) { try store.extractPrivateKey(key) }
        #expect(error?.code == .notExportable)
        #expect(error?.reason.contains("marked non-exportable") == true)
        let answer = try store.exportability(of: uri, pin: { _ in test.pin })
        #expect(!answer.exportable)
        #expect(answer.reason.contains("CKA_EXTRACTABLE=false"))

        // Every wrap route at the PKCS#11 level is refused by the token itself.
        let session = try test.userSession()
        let object = try session.findObject([Attribute(.privateKey), Attribute(.label, string: "k")], what: "k")
        let aes = try session.generateAESKey(bytes: 32, adding: [Attribute(.wrap, true)])
        let refused = #expect(throws: PKCS11Error.self) {
            try session.wrapKey(Mechanism(.aesKeyWrapPad), wrappingKey: aes, key: object)
        }
        #expect(refused?.returnValue == .keyUnextractable)
        // Neither token offers another route for private keys; whatever it answers, nothing comes out.
        for mechanism in [Mechanism(.aesKeyWrap), Mechanism(.aesCBCPad, parameter: [UInt8](repeating: 1, count: 16))] {
            #expect(throws: PKCS11Error.self) { try session.wrapKey(mechanism, wrappingKey: aes, key: object) }
        }
    }

    @Test("a URI that names no key, or several, says so", arguments: TokenFixtures.all)
    func lookups(token: any TokenFixture) throws {
        let fixture = try ImportTests.Fixture.make()
        let test = try token.freshToken()
        let (store, _) = try importFixture(fixture, exportable: false, into: test)
        let none = #expect(throws: StoreError.self) {
            try store.privateKey(try PKCS11URI("pkcs11:token=\(test.label);object=nope"), pin: { _ in test.pin })
        }
        #expect(none?.code == .notFound)
        #expect(none?.reason.contains("\"\(test.label)\"") == true)
        let wrongType = #expect(throws: StoreError.self) {
            try store.privateKey(try PKCS11URI("pkcs11:token=\(test.label);type=cert"), pin: { _ in test.pin })
        }
        #expect(wrongType?.code == .usage)
    }
}
