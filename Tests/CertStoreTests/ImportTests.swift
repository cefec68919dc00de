import Foundation
import PKCS11
import TestSupport
import Testing

@testable import CertStore

/// Placing a key, its certificate and chain on real tokens (SoftHSM2 and the software token), atomically, with the flags
/// read back.
@Suite("import onto a token")
struct ImportTests {
    /// A key with a certificate issued by an intermediate under a root: a three-level path.
    struct Fixture {
        let dir: TemporaryDirectory
        let item: ImportItem
        let leafPEM: String
        let keyPEM: String
        static func make(ec: Bool = false) throws -> Fixture {
            let dir = try TemporaryDirectory()
            let root = try RSAComponents.generate(in: dir)
            let rootCert = try makeCertificate(keyPEM: root.pem, subject: "/CN=Test Root CA", ca: true, in: dir)
            let mid = try RSAComponents.generate(in: dir)
            let midCert = try makeCertificate(
                keyPEM: mid.pem, subject: "/CN=Test Issuing CA", issuerKeyPEM: root.pem,
                issuerCert: rootCert.pemPath, ca: true, in: dir)
            let key: KeyMaterial
            let keyPEM: String
            if ec {
                let c = try ECComponents.generate(in: dir)
                key = KeyMaterial(ecParameters: c.parameters, value: c.privateValue, point: c.point)
                keyPEM = c.pem
            } else {
                let c = try RSAComponents.generate(in: dir)
                key = KeyMaterial(
                    rsaModulus: c.modulus, publicExponent: c.publicExponent, privateExponent: c.privateExponent,
                    prime1: c.prime1, prime2: c.prime2, exponent1: c.exponent1, exponent2: c.exponent2,
                    coefficient: c.coefficient)
                keyPEM = c.pem
            }
            let leaf = try makeCertificate(
                keyPEM: keyPEM, subject: "/CN=Alice Example/O=CertBridge", issuerKeyPEM: mid.pem,
                issuerCert: midCert.pemPath, in: dir)
            return Fixture(
                dir: dir,
                item: ImportItem(
                    key: key, certificate: leaf.der, chain: [midCert.der, rootCert.der], friendlyName: nil),
                leafPEM: leaf.pemPath, keyPEM: keyPEM)
        }
    }

    func store(_ test: TestToken) throws -> Store { try Store(modulePaths: [test.module.path]) }
    func pin(_ test: TestToken) -> Store.PINProvider { { _ in test.pin } }

    @Test(
        "key, public key, certificate and chain land with the flags asked for", arguments: TokenFixtures.all,
        [
            (false, SecurityLevel.standard, false), (true, .standard, false), (false, .high, false),
            (true, .high, true),
        ])
    func lands(token: any TokenFixture, flags: (Bool, SecurityLevel, Bool)) throws {
        let (exportable, level, ec) = flags
        let fixture = try Fixture.make(ec: ec)
        let test = try token.freshToken()
        var options = ImportOptions()
        options.exportable = exportable
        options.securityLevel = level
        let store = try store(test)
        let result = try store.importItem(fixture.item, to: try test.storeToken(), options: options, pin: pin(test))
        #expect(result.label == "Alice Example")
        let key = try #require(result.objects.first { $0.class == "private-key" })
        #expect(key.flags?.extractable == exportable)
        #expect(key.flags?.sensitive == true)
        #expect(key.flags?.alwaysAuthenticate == (level == .high))
        #expect(key.verdict == (exportable ? "exportable" : "non-exportable"))
        #expect(result.objects.filter { $0.class == "certificate" }.count == 3)
        let authorities = result.objects.filter { $0.certificate?.category == "authority" }
        #expect(authorities.map { $0.label }.sorted() == ["Test Issuing CA", "Test Root CA"])
        let cert = try #require(result.objects.first { $0.certificate?.category == "user" })
        #expect(cert.id == key.id && cert.label == key.label)
    }

    @Test(
        "--no-chain places only the key and its certificate; an existing CA is not duplicated",
        arguments: TokenFixtures.all)
    func chainOptions(token: any TokenFixture) throws {
        let fixture = try Fixture.make()
        let test = try token.freshToken()
        var options = ImportOptions()
        options.includeChain = false
        let store = try store(test)
        let result = try store.importItem(fixture.item, to: try test.storeToken(), options: options, pin: pin(test))
        #expect(result.objects.filter { $0.class == "certificate" }.count == 1)
    }

    @Test("a key already on the token is refused unless replace, which leaves one copy", arguments: TokenFixtures.all)
    func duplicates(token: any TokenFixture) throws {
        let fixture = try Fixture.make(ec: true)
        let test = try token.freshToken()
        let store = try store(test)
        _ = try store.importItem(fixture.item, to: try test.storeToken(), options: ImportOptions(), pin: pin(test))
        let before = try test.snapshot()
        let error = #expect(throws: StoreError.self) {
            try store.importItem(fixture.item, to: try test.storeToken(), options: ImportOptions(), pin: pin(test))
        }
        #expect(error?.reason.contains("already on") == true)
        #expect(try test.snapshot() == before)
        var replace = ImportOptions()
        replace.replace = true
        replace.label = "renamed"
        let result = try store.importItem(fixture.item, to: try test.storeToken(), options: replace, pin: pin(test))
        #expect(result.replaced == 1)
        #expect(result.chainAlreadyPresent == 2)
        let keys = try test.userSession().findObjects([Attribute(.privateKey)])
        #expect(keys.count == 1)
        #expect(try keys[0].attributes([.label]).label == "renamed")
    }

    @Test(
        "a failure after any write leaves the token exactly as before", arguments: TokenFixtures.all,
        [
            ImportStep.publicKey, .certificate, .chainCertificate, .replaceOld,
        ])
    func rollsBack(token: any TokenFixture, failingAt step: ImportStep) throws {
        let fixture = try Fixture.make()
        let test = try token.freshToken()
        let store = try store(test)
        let before = try test.snapshot()
        let error = #expect(throws: StoreError.self) {
            try store.importItem(fixture.item, to: try test.storeToken(), options: ImportOptions(), pin: pin(test)) {
                (current) throws(PKCS11Error) in
                if current == step {
                    throw PKCS11Error(.returned(.deviceMemory), function: "C_CreateObject", reason: "injected")
                }
            }
        }
        #expect(error?.reason.contains("CKR_DEVICE_MEMORY") == true)
        #expect(error?.reason.contains("nothing was left on the token") == true)
        #expect(try test.snapshot() == before)
    }

    @Test("a certificate that is not the key's is refused before anything is written", arguments: TokenFixtures.all)
    func mismatchedCertificate(token: any TokenFixture) throws {
        let fixture = try Fixture.make()
        let other = try Fixture.make(ec: true)
        let test = try token.freshToken()
        let before = try test.snapshot()
        let item = ImportItem(key: other.item.key, certificate: fixture.item.certificate, chain: [], friendlyName: nil)
        let error = #expect(throws: StoreError.self) {
            try store(test).importItem(item, to: try test.storeToken(), options: ImportOptions(), pin: pin(test))
        }
        #expect(error?.reason.contains("does not belong to the private key") == true)
        #expect(try test.snapshot() == before)
    }
}
