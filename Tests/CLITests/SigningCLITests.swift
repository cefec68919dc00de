import Foundation
import PKCS11
import TestSupport
import Testing

/// `certbridge sign`, `verify`, `test-sign` and `pin`, end to end through the built binary,
/// with every signature checked by `openssl` against the certificate made by `openssl`.
@Suite("signing through the CLI")
struct SigningCLITests {
    static let mechanisms: [TestKeyType: [String]] = [
        .rsa2048: [
            "rsa-pkcs-sha256", "rsa-pkcs-sha384", "rsa-pkcs-sha512", "rsa-pss-sha256", "rsa-pss-sha384",
            "rsa-pss-sha512",
        ],
        .p256: ["ecdsa-sha256", "ecdsa-sha384", "ecdsa-sha512"],
        .p384: ["ecdsa-sha256", "ecdsa-sha384", "ecdsa-sha512"],
        .ed25519: ["eddsa"],
    ]

    @Test(
        "every mechanism's signature verifies with openssl against the certificate, and with certbridge verify",
        arguments: TokenFixtures.all, [TestKeyType.rsa2048, .p256, .p384])
    func everyMechanismVerifiesWithOpenSSL(fixture: any TokenFixture, type: TestKeyType) throws {
        let rig = try FixtureRig(fixture)
        for high in [false, true] {
            let key = try rig.install(type, high: high, label: high ? "high" : "std", id: [high ? 2 : 1])
            let data = try rig.dir.write("data-\(high)", "CertBridge signs this \(UUID()).\n")
            for mechanism in Self.mechanisms[type]! {
                let sig = rig.dir.file("\(high)-\(mechanism).sig")
                let signed = try rig.certbridge([
                    "sign", key.uri, "--in", data, "--out", sig, "--mechanism", mechanism,
                    "--pin-source", "file:\(rig.pinFile)",
                ])
                try #require(signed.status == 0, "\(mechanism): \(signed.stderr)")
                let checked = try opensslVerify(mechanism, publicKey: key.publicKeyPEM, data: data, signature: sig)
                #expect(
                    checked.status == 0 && checked.stdout.contains("Verified OK"),
                    "openssl rejects \(mechanism) (high=\(high)): \(checked.stdout) \(checked.stderr)")
                let ours = try rig.certbridge([
                    "verify", key.uri, "--in", data, "--sig", sig, "--mechanism", mechanism, "--pin-source",
                    "file:\(rig.pinFile)",
                ])
                #expect(ours.status == 0, "\(mechanism): \(ours.stderr)")
            }
        }
    }

    @Test("EdDSA signs and openssl verifies, where the token offers CKM_EDDSA", arguments: TokenFixtures.all)
    func eddsa(fixture: any TokenFixture) throws {
        let rig = try FixtureRig(fixture)
        let offered = try rig.test.token().slot.mechanisms()
        guard offered.contains(.eddsa) else { return }  // where the token has it
        let key = try rig.install(.ed25519, label: "ed", id: [9])
        let data = try rig.dir.write("data", "Edwards.\n")
        let sig = rig.dir.file("ed.sig")
        let signed = try rig.certbridge([
            "sign", key.uri, "--in", data, "--out", sig, "--pin-source", "file:\(rig.pinFile)",
        ])
        try #require(signed.status == 0, "\(signed.stderr)")
        let checked = try opensslVerify("eddsa", publicKey: key.publicKeyPEM, data: data, signature: sig)
        #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
    }

    @Test(
        "the default mechanism follows the key; ECDSA is DER by default and r||s with --format raw; a tampered file is invalid (exit 1)",
        arguments: TokenFixtures.all)
    func defaultsFormatsAndInvalid(fixture: any TokenFixture) throws {
        let (rig, key, data) = try FixtureRig.signing(fixture, .p384, label: "ec", id: [3], data: "hello\n")
        let pin = ["--pin-source", "env:TEST_PIN"]
        let env = ["TEST_PIN": rig.test.userPIN]
        let signed = try rig.certbridge(
            ["sign", key.uri, "--in", data, "--out", rig.dir.file("der.sig"), "--json"] + pin, environment: env)
        try #require(signed.status == 0, "\(signed.stderr)")
        let result = try signed.json(SignatureJSON.self)
        #expect(result.mechanism == "ecdsa-sha384" && result.format == "der")
        #expect(
            try opensslVerify(
                "ecdsa-sha384", publicKey: key.publicKeyPEM, data: data, signature: rig.dir.file("der.sig")
            ).status == 0)

        let raw = try rig.certbridge(
            ["sign", key.uri, "--in", data, "--out", rig.dir.file("raw.sig"), "--format", "raw"] + pin, environment: env
        )
        #expect(raw.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: rig.dir.file("raw.sig"))).count == 96)
        let rawOK = try rig.certbridge(
            ["verify", key.uri, "--in", data, "--sig", rig.dir.file("raw.sig"), "--format", "raw"] + pin,
            environment: env)
        #expect(rawOK.status == 0 && rawOK.stdout.contains("Signature OK"), "\(rawOK.stderr)")

        let other = try rig.dir.write("other", "hellO\n")
        let bad = try rig.certbridge(
            ["verify", key.uri, "--in", other, "--sig", rig.dir.file("der.sig")] + pin, environment: env)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("signature NOT valid"))

        let wrongKind = try rig.certbridge(
            ["sign", key.uri, "--in", data, "--out", rig.dir.file("x.sig"), "--mechanism", "rsa-pss-sha256"] + pin,
            environment: env)
        #expect(wrongKind.status == 2)
        #expect(wrongKind.stderr.contains("does not fit"))
    }

    @Test(
        "a High key through the CLI: one user login and one context login per sign, the key password from its own source, re-read per use",
        arguments: TokenFixtures.all)
    func highKeyCountedThroughCLI(fixture: any TokenFixture) throws {
        let (rig, key, data) = try FixtureRig.signing(
            fixture, .rsa2048, high: true, label: "high", id: [4], data: "approve me\n")
        let counting = try CountingModule.make(forwardingTo: fixture.modulePath, in: rig.dir)
        let keyPassword = try rig.dir.write("keypw", rig.test.userPIN + "\n")
        for round in 1...3 {
            let signed = try rig.certbridge(
                [
                    "sign", key.uri, "--in", data, "--out", rig.dir.file("s\(round).sig"),
                    "--pin-source", "env:TEST_PIN", "--key-password-source", "file:\(keyPassword)",
                ],
                module: counting.path,
                environment: ["TEST_PIN": rig.test.userPIN].merging(
                    CountingModule.environment(target: fixture.modulePath)
                ) { $1 })
            try #require(signed.status == 0, "\(signed.stderr)")
        }
        let logins = try counting.calls().filter { $0.function == "C_Login" && $0.ok }
        #expect(logins.filter { $0.userType == 1 }.count == 3)
        #expect(logins.filter { $0.userType == 2 }.count == 3)

        // From one descriptor, each ask reads its own line: the user PIN, then the key's.
        let fromFD = try rig.certbridge(
            ["sign", key.uri, "--in", data, "--out", rig.dir.file("fd.sig"), "--pin-source", "fd:0"],
            input: "\(rig.test.userPIN)\n\(rig.test.userPIN)\n")
        #expect(fromFD.status == 0, "\(fromFD.stderr)")
        let onlyOne = try rig.certbridge(
            ["sign", key.uri, "--in", data, "--out", rig.dir.file("fd1.sig"), "--pin-source", "fd:0"],
            input: "\(rig.test.userPIN)\n")
        // No second line: the source gives nothing, so it is refused before a try is spent.
        #expect(onlyOne.status == 2, "no second line: the High key's use is not approved")
    }

    @Test(
        "test-sign on a High key: signs, verifies, the token refuses an unapproved signature, the key signs again",
        arguments: TokenFixtures.all)
    func testSignHigh(fixture: any TokenFixture) throws {
        let rig = try FixtureRig(fixture)
        let high = try rig.install(.p256, high: true, label: "high", id: [5])
        let standard = try rig.install(.rsa2048, label: "std", id: [6])
        let result = try rig.certbridge(["test-sign", high.uri, "--pin-source", "file:\(rig.pinFile)", "--json"])
        try #require(result.status == 0, "\(result.stderr)")
        let report = try result.json(SelfTestJSON.self)
        #expect(report.steps.map(\.name) == ["sign", "verify", "refuse-unapproved", "sign-again"])
        #expect(report.steps.allSatisfy { $0.ok })
        #expect(report.moduleLax == false)
        #expect(report.steps[2].detail.contains("CKR_USER_NOT_LOGGED_IN"))
        #expect(report.steps[1].detail.contains("certificate"))

        let text = try rig.certbridge(["test-sign", standard.uri, "--pin-source", "file:\(rig.pinFile)"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("security level standard"))
        #expect(text.stdout.contains("ok   verify"))
        #expect(!text.stdout.contains("refuse-unapproved"))
        #expect(text.stdout.contains("test-sign passed."))
    }

    @Test(
        "a wrong key password exits 4 with what the token says about tries left, and never shows the password",
        arguments: TokenFixtures.all)
    func wrongKeyPassword(fixture: any TokenFixture) throws {
        let (rig, key, data) = try FixtureRig.signing(fixture, .p256, high: true, label: "high", id: [7], data: "x\n")
        let result = try rig.certbridge(
            [
                "sign", key.uri, "--in", data, "--out", rig.dir.file("s"), "--pin-source", "file:\(rig.pinFile)",
                "--key-password-source", "env:BAD",
            ], environment: ["BAD": "31337"])
        #expect(result.status == 4)
        #expect(result.stderr.contains("approving the use of key \"high\""))
        #expect(result.stderr.contains("CKR_PIN_INCORRECT"))
        if try rig.test.token().info.flags.contains(.userPINCountLow) {
            #expect(result.stderr.contains("few tries left"))
        }
        #expect(!result.stderr.contains("31337") && !result.stdout.contains("31337"))
        // test-sign reports the same exit for a wrong password.
        let selfTest = try rig.certbridge(
            ["test-sign", key.uri, "--pin-source", "file:\(rig.pinFile)", "--key-password-source", "env:BAD"],
            environment: ["BAD": "31337"])
        #expect(selfTest.status == 4, "\(selfTest.stderr)")
    }

    @Test(
        "wrong user PINs: exit 4 with tries left; exit 6 once the token locks the PIN (SoftHSM2 never does — checked, not assumed)",
        arguments: TokenFixtures.all)
    func lockout(fixture: any TokenFixture) throws {
        let (rig, key, data) = try FixtureRig.signing(fixture, .p256, label: "k", id: [8], data: "x\n")
        let tries = fixture.userPINLockout ?? 12
        var statuses: [Int32] = []
        for _ in 0..<tries {
            let result = try rig.certbridge(
                ["sign", key.uri, "--in", data, "--out", rig.dir.file("s"), "--pin-source", "env:BAD"],
                environment: ["BAD": "0000"])
            statuses.append(result.status)
            #expect(result.stderr.contains("CKR_PIN") && !result.stderr.contains("0000\n"))
        }
        let after = try rig.certbridge([
            "sign", key.uri, "--in", data, "--out", rig.dir.file("s"), "--pin-source", "file:\(rig.pinFile)",
        ])
        if fixture.userPINLockout != nil {
            #expect(statuses.dropLast().allSatisfy { $0 == 4 })
            #expect(statuses.last == 6)
            #expect(after.status == 6, "a locked PIN stays locked, even for the right PIN")
            #expect(after.stderr.contains("pin unblock"))
        } else {
            #expect(statuses.allSatisfy { $0 == 4 })
            #expect(try !rig.test.token().info.flags.contains(.userPINLocked))
            #expect(after.status == 0, "this token does not lock: the right PIN still works after \(tries) wrong ones")
        }
    }

    @Test(
        "pin change: the old PIN stops working and the new one works; a wrong old PIN exits 4; --so changes the SO PIN",
        arguments: TokenFixtures.all)
    func pinChange(fixture: any TokenFixture) throws {
        let rig = try FixtureRig(fixture)
        let newPIN = try rig.dir.write("new", "246810\n")
        let wrong = try rig.certbridge(
            ["pin", "change", rig.tokenURI, "--pin-source", "env:BAD", "--new-pin-source", "file:\(newPIN)"],
            environment: ["BAD": "1111"])
        #expect(wrong.status == 4, "\(wrong.stderr)")
        let changed = try rig.certbridge([
            "pin", "change", rig.tokenURI, "--pin-source", "file:\(rig.pinFile)", "--new-pin-source", "file:\(newPIN)",
        ])
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(try rig.certbridge(["objects", rig.tokenURI, "--pin-source", "file:\(rig.pinFile)"]).status == 4)
        #expect(try rig.certbridge(["objects", rig.tokenURI, "--pin-source", "file:\(newPIN)"]).status == 0)

        let so = try rig.dir.write("so", rig.test.soPIN + "\n")
        let newSO = try rig.dir.write("newso", "87654321\n")
        let soChanged = try rig.certbridge([
            "pin", "change", rig.tokenURI, "--so", "--pin-source", "file:\(so)", "--new-pin-source", "file:\(newSO)",
        ])
        #expect(soChanged.status == 0, "\(soChanged.stderr)")
        let oldSO = try rig.certbridge([
            "pin", "unblock", rig.tokenURI, "--so-pin-source", "file:\(so)", "--new-pin-source", "file:\(newPIN)",
        ])
        #expect(oldSO.status == 4)
        #expect(oldSO.stderr.contains("wrong SO PIN"))
    }

    @Test(
        "pin unblock: the SO PIN sets a new user PIN that then signs; a wrong SO PIN exits 4",
        arguments: TokenFixtures.all)
    func pinUnblock(fixture: any TokenFixture) throws {
        let (rig, key, data) = try FixtureRig.signing(fixture, .p256, label: "k", id: [1], data: "x\n")
        let so = try rig.dir.write("so", rig.test.soPIN + "\n")
        let fresh = try rig.dir.write("fresh", "13579\n")
        let wrong = try rig.certbridge(
            ["pin", "unblock", rig.tokenURI, "--so-pin-source", "env:BAD", "--new-pin-source", "file:\(fresh)"],
            environment: ["BAD": "00000000"])
        #expect(wrong.status == 4)
        let unblocked = try rig.certbridge([
            "pin", "unblock", rig.tokenURI, "--so-pin-source", "file:\(so)", "--new-pin-source", "file:\(fresh)",
        ])
        #expect(unblocked.status == 0, "\(unblocked.stderr)")
        let signed = try rig.certbridge([
            "sign", key.uri, "--in", data, "--out", rig.dir.file("s"), "--pin-source", "file:\(fresh)",
        ])
        #expect(signed.status == 0, "\(signed.stderr)")
        #expect(
            try rig.certbridge([
                "sign", key.uri, "--in", data, "--out", rig.dir.file("s"), "--pin-source", "file:\(rig.pinFile)",
            ]).status == 4)
    }
}
