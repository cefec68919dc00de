import Foundation
import PKCS11
import SwiftASN1
import TestSupport
import Testing
import X509

@testable import CertStore

/// The signing protocol of issue 5, proved at the module boundary: a counting PKCS#11 shim
/// between CertStore and the real module records every C_Login (by user type), C_SignInit
/// and C_Sign with the module's answer.
@Suite("signing with token keys")
struct SigningTests {
    /// A fresh token with one key, the store seen through a counting shim, and the key's URI.
    struct Rig {
        let test: TestToken
        let key: InstalledKey
        let counting: CountingModule
        let store: Store
        let dir: TemporaryDirectory

        init(_ fixture: any TokenFixture, _ type: TestKeyType = .p256, high: Bool) throws {
            dir = try TemporaryDirectory()
            test = try fixture.freshToken()
            do {
                let session = try test.userSession()
                key = try TestKeys.install(
                    type, high: high, label: "k", id: [0x42], token: test, session: session, in: dir)
                // The login state is per process and token: log out so the store's own login is
                // the one that counts.
                try session.logout()
            }
            counting = try CountingModule.make(forwardingTo: fixture.modulePath, in: dir)
            store = try Store(modulePaths: [counting.path])
        }

        func signer(keyPassword: @escaping KeyPasswordProvider, attempts: Int = 1) throws -> Signer {
            let pin = test.userPIN
            return try Signer(
                store: store, key: PKCS11URI(key.uri), pin: { _ in PIN(bytes: Array(pin.utf8)) },
                keyPassword: keyPassword, attempts: attempts)
        }

        var rightPIN: KeyPasswordProvider { keyPasswords().provider }

        func logins(_ userType: Int, ok: Bool? = nil) throws -> Int {
            try counting.calls().filter {
                $0.function == "C_Login" && $0.userType == userType && (ok == nil || $0.ok == ok)
            }.count
        }

        /// Key passwords answered the way a person would type them: `wrong` for the first
        /// `wrongFirst` asks, the user PIN after.
        func keyPasswords(wrong: String = "", wrongFirst: Int = 0) -> KeyPasswords {
            KeyPasswords(right: test.userPIN, wrong: wrong, wrongFirst: wrongFirst)
        }
    }

    /// A key password provider that records every ask (by its attempt number within the use).
    final class KeyPasswords {
        let right: String
        let wrong: String
        let wrongFirst: Int
        private(set) var attempts: [Int] = []

        init(right: String, wrong: String, wrongFirst: Int) {
            self.right = right
            self.wrong = wrong
            self.wrongFirst = wrongFirst
        }

        var provider: KeyPasswordProvider {
            { request in
                self.attempts.append(request.attempt)
                return PIN(bytes: Array((self.attempts.count <= self.wrongFirst ? self.wrong : self.right).utf8))
            }
        }
    }

    @Test(
        "a High key: N signatures take exactly N context logins, each SignInit → Login(CONTEXT_SPECIFIC) → Sign, on one user login",
        arguments: TokenFixtures.all)
    func contextLoginPerSignature(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, high: true)
        let passwords = rig.keyPasswords()
        let signer = try rig.signer(keyPassword: passwords.provider)
        #expect(signer.key.securityLevel == .high)
        let publicKey = try signer.publicKey().key
        let n = 5
        for i in 0..<n {
            let message = Array("message \(i)".utf8)
            let signature = try signer.sign(message)
            #expect(
                try SignatureVerification.isValid(
                    signature, of: message, algorithm: .ecdsa(.sha256), publicKey: publicKey))
        }
        #expect(passwords.attempts.count == n, "the key password is asked for every use, never cached")
        #expect(try rig.logins(2, ok: true) == n)
        #expect(try rig.logins(2) == n)
        #expect(try rig.logins(1) == 1)
        // The order within each use, as the module saw it.
        let sequence = try rig.counting.calls()
            .filter {
                ["C_SignInit", "C_Sign"].contains($0.function) || ($0.function == "C_Login" && $0.userType == 2)
            }
            .map(\.function)
        #expect(sequence == Array([["C_SignInit", "C_Login", "C_Sign"]].repeated(n).joined()))
    }

    @Test("a standard key signs with no context login at all", arguments: TokenFixtures.all)
    func standardKeyNoContextLogin(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, .rsa2048, high: false)
        let signer = try rig.signer(keyPassword: { _ throws(StoreError) in
            Issue.record("a standard key must not ask")
            throw StoreError(.usage, "no")
        })
        for i in 0..<3 { _ = try signer.sign(Array("m\(i)".utf8)) }
        #expect(try rig.logins(2) == 0)
        #expect(try rig.logins(1) == 1)
    }

    @Test(
        "without the key's login each signature is refused by the token, and the signer still works after",
        arguments: TokenFixtures.all)
    func refusedWithoutContextLogin(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, high: true)
        let signer = try rig.signer(keyPassword: rig.rightPIN)
        for _ in 0..<3 {
            let outcome = try signer.attemptUnapprovedUse()
            #expect(outcome.refused)
            #expect(outcome.returnValue == "CKR_USER_NOT_LOGGED_IN")
        }
        #expect(try rig.counting.calls().filter { $0.function == "C_Sign" && $0.ok }.isEmpty)
        // A user who declines (the provider throws) gets no signature, and the token signed nothing.
        let declined = #expect(throws: StoreError.self) {
            _ = try rig.signer(keyPassword: { _ throws(StoreError) in throw StoreError(.usage, "declined") }).sign([
                1, 2, 3,
            ])
        }
        #expect(declined?.reason == "declined")
        #expect(try rig.counting.calls().filter { $0.function == "C_Sign" && $0.ok }.isEmpty)
        // And with the password the same signer signs.
        _ = try signer.sign([1, 2, 3])
        #expect(try rig.counting.calls().filter { $0.function == "C_Sign" && $0.ok }.count == 1)
    }

    @Test(
        "a wrong key password reports what the token says about tries left; the next right one works on the same signer without a new user login",
        arguments: TokenFixtures.all)
    func wrongPasswordThenRight(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, high: true)
        let signer = try rig.signer(keyPassword: rig.keyPasswords(wrong: "99999", wrongFirst: 1).provider)
        let error = #expect(throws: StoreError.self) { _ = try signer.sign(Array("first".utf8)) }
        #expect(error?.code == .wrongSecret)
        #expect(error?.reason.contains("CKR_PIN_INCORRECT") == true)
        #expect(error?.reason.contains("99999") == false)
        let flags = try rig.test.token().info.flags
        if flags.contains(.userPINCountLow) { #expect(error?.reason.contains("few tries left") == true) }
        if flags.contains(.userPINFinalTry) { #expect(error?.reason.contains("one try left") == true) }

        let message = Array("second".utf8)
        let signature = try signer.sign(message)
        #expect(
            try SignatureVerification.isValid(
                signature, of: message, algorithm: .ecdsa(.sha256), publicKey: signer.publicKey().key))
        #expect(try rig.logins(1) == 1, "the user login survived the wrong key password")
        #expect(try rig.logins(2, ok: false) == 1)
        #expect(try rig.logins(2, ok: true) == 1)
    }

    @Test("a person typing gets several tries within one use, on one operation", arguments: TokenFixtures.all)
    func retriesWithinOneUse(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, high: true)
        let passwords = rig.keyPasswords(wrong: "0000", wrongFirst: 2)
        let signer = try rig.signer(keyPassword: passwords.provider, attempts: 3)
        _ = try signer.sign(Array("typed".utf8))
        #expect(passwords.attempts == [1, 2, 3])
        #expect(try rig.logins(2, ok: false) == 2)
        #expect(try rig.logins(2, ok: true) == 1)
        #expect(try rig.counting.calls().filter { $0.function == "C_SignInit" }.count == 1)
    }

    @Test(
        "when the module loses the user login, the signer opens a fresh session, logs in again and signs",
        arguments: TokenFixtures.all)
    func recoversLostLogin(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture, high: true)
        let signer = try rig.signer(keyPassword: rig.rightPIN)
        _ = try signer.sign([1])
        // Another session of this process logs out: the login state is shared, so the signer's
        // session loses it, as after a card reset or OpenSC's drop after a refusal.
        try rig.test.token().openSession().logout()
        let message: [UInt8] = [2]
        let signature = try signer.sign(message)
        #expect(
            try SignatureVerification.isValid(
                signature, of: message, algorithm: .ecdsa(.sha256), publicKey: signer.publicKey().key))
        #expect(try rig.logins(1, ok: true) == 2)
    }

    @Test(
        "a token key signs a CSR and a self-signed certificate through swift-certificates; openssl verifies both",
        arguments: TokenFixtures.all, [TestKeyType.rsa2048, .p256, .p384])
    func customPrivateKey(fixture: any TokenFixture, type: TestKeyType) throws {
        let rig = try Rig(fixture, type, high: true)
        let passwords = rig.keyPasswords()
        let signer = try rig.signer(keyPassword: passwords.provider)
        let key = try TokenPrivateKey(signer)
        let privateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName { CommonName("CertBridge token key") }
        let csr = try CertificateSigningRequest(
            version: .v1, subject: name, privateKey: privateKey,
            attributes: CertificateSigningRequest.Attributes(),
            signatureAlgorithm: key.defaultSignatureAlgorithm)
        let csrPath = try rig.dir.write("req.pem", try csr.serializeAsPEM().pemString)
        let checked = try run("openssl", ["req", "-in", csrPath, "-verify", "-noout"])
        #expect(checked.status == 0, "\(checked.stderr)")

        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey,
            notValidBefore: now - 300, notValidAfter: now + 3600, issuer: name, subject: name,
            signatureAlgorithm: key.defaultSignatureAlgorithm, extensions: Certificate.Extensions(),
            issuerPrivateKey: privateKey)
        let certPath = try rig.dir.write("self.pem", try certificate.serializeAsPEM().pemString)
        let verified = try run("openssl", ["verify", "-CAfile", certPath, "-check_ss_sig", certPath])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        #expect(passwords.attempts.count == 2, "one password per signature: the CSR and the certificate")
        #expect(try rig.logins(2, ok: true) == 2)
    }

    @Test("ECDSA DER and raw r‖s convert both ways; a malformed one is simply invalid")
    func ecdsaFormats() throws {
        let rig = try Rig(SoftHSMFixture(), .p384, high: false)
        let signer = try rig.signer(keyPassword: rig.rightPIN)
        let message = Array("formats".utf8)
        let raw = try signer.sign(message, algorithm: .ecdsa(.sha384), format: .raw)
        #expect(raw.count == 96)
        let publicKey = try signer.publicKey().key
        #expect(
            try SignatureVerification.isValid(
                raw, of: message, algorithm: .ecdsa(.sha384), format: .raw, publicKey: publicKey))
        #expect(
            try !SignatureVerification.isValid(
                raw, of: message, algorithm: .ecdsa(.sha384), format: .der, publicKey: publicKey))
        var tampered = raw
        tampered[5] ^= 1
        #expect(
            try !SignatureVerification.isValid(
                tampered, of: message, algorithm: .ecdsa(.sha384), format: .raw, publicKey: publicKey))
    }

    @Test(
        "mechanism names parse, and the default follows the key",
        arguments: [
            ("rsa-pkcs-sha256", SignatureAlgorithm.rsaPKCS1(.sha256)), ("rsa-pss-sha384", .rsaPSS(.sha384)),
            ("ECDSA-SHA512", .ecdsa(.sha512)), ("eddsa", .eddsa),
        ])
    func mechanismNames(name: String, algorithm: SignatureAlgorithm) throws {
        #expect(try SignatureAlgorithm(name: name) == algorithm)
        #expect(KeyKind.rsa(bits: 3072).defaultAlgorithm == .rsaPKCS1(.sha256))
        #expect(KeyKind.ec(curve: "P-384", bits: 384).defaultAlgorithm == .ecdsa(.sha384))
        #expect(KeyKind.ec(curve: "P-256", bits: 256).defaultAlgorithm == .ecdsa(.sha256))
        #expect(throws: StoreError(.usage, "")) { try SignatureAlgorithm(name: "rsa-md5") }
    }

    @Test(
        "CKR_PIN_LOCKED from C_Login maps to exit 6 with the unblock hint (SoftHSM2 never locks, so this is the mapping alone)"
    )
    func lockedMapping() {
        let error = StoreError(
            PKCS11Error(.returned(.pinLocked), function: "C_Login", reason: "C_Login returned CKR_PIN_LOCKED"),
            doing: "approving the use of key \"k\"")
        #expect(error.code == .locked)
        #expect(error.code.rawValue == 6)
        #expect(error.reason.contains("pin unblock"))
    }
}

extension Array {
    func repeated(_ count: Int) -> [Element] { (0..<count).flatMap { _ in self } }
}
