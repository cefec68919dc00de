import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// What only the software token promises: High keys with a password of their own, objects
/// encrypted on disk, a store only its owner can read, and tokens shared between processes.
@Suite("software token: key passwords, storage at rest, several processes")
struct StorageTests {
    /// CertBridge's vendor attribute: the High-level key password, given in a creation template.
    static let keyPassword = AttributeType.certBridgeKeyPassword

    @Test(
        "a key with its own password signs only after a context login with that password; the user PIN is CKR_PIN_INCORRECT",
        arguments: [false, true])
    func keyPassword(generated: Bool) throws {
        let (test, session) = try SoftTokenRig.freshSession()
        let password = "high-\(UInt32.random(in: 0...UInt32.max))"
        let flags = [
            Attribute(.sensitive, true), Attribute(.extractable, false), Attribute(.alwaysAuthenticate, true),
            Attribute(Self.keyPassword, string: password),
        ]
        let publicKey: Object
        let privateKey: Object
        if generated {
            (publicKey, privateKey) = try PolicyTests.generate(session, label: "high", flags: flags)
        } else {
            let key = try ECComponents.generate(in: try TemporaryDirectory())
            privateKey = try session.createObject(
                [
                    Attribute(.privateKey), Attribute(.ec), Attribute(.token, true), Attribute(.private, true),
                    Attribute(.sign, true),
                    Attribute(.label, string: "high"), Attribute(.ecParams, bytes: key.parameters),
                    Attribute(.value, bytes: key.privateValue),
                ] + flags)
            publicKey = try session.createObject([
                Attribute(.publicKey), Attribute(.ec), Attribute(.token, true), Attribute(.verify, true),
                Attribute(.label, string: "high"), Attribute(.ecParams, bytes: key.parameters),
                Attribute(.ecPoint, bytes: key.point),
            ])
        }
        let mechanism = Mechanism(.ecdsaSHA256)
        let data = Array("approved by the key's own password".utf8)

        try session.signInit(mechanism, key: privateKey)
        let withPIN = #expect(throws: PKCS11Error.self) { try session.login(.contextSpecific, pin: test.pin) }
        #expect(withPIN?.returnValue == .pinIncorrect)
        let unapproved = #expect(throws: PKCS11Error.self) { try session.sign(data) }
        #expect(unapproved?.returnValue == .userNotLoggedIn)

        try session.signInit(mechanism, key: privateKey)
        try session.login(.contextSpecific, pin: PIN(bytes: Array(password.utf8)))
        #expect(try session.verify(mechanism, key: publicKey, data: data, signature: try session.sign(data)))

        try session.signInit(mechanism, key: privateKey)
        let spent = #expect(throws: PKCS11Error.self) { try session.sign(data) }
        #expect(spent?.returnValue == .userNotLoggedIn, "one context login approved two signatures")

        // No attribute the token answers, standard or vendor, carries the password.
        let asked =
            (0..<0x300).map { AttributeType(rawValue: UInt($0)) }
            + (0..<0x100).map { AttributeType(rawValue: Self.keyPassword.rawValue - 1 + UInt($0)) }
        let values = try privateKey.attributes(asked)
        #expect(values[Self.keyPassword] == nil)
        #expect(values.values.count > 10, "the read returned almost nothing: \(values.values.keys)")
        for (type, value) in values.values {
            #expect(!value.contains(bytes: Array(password.utf8)), "\(type) carries the key password")
        }
    }

    @Test("whether a key has its own password is read back from the token, and cannot be claimed in a template")
    func ownPasswordFlagIsTheTokens() throws {
        let (_, session) = try SoftTokenRig.freshSession()
        let key = try ECComponents.generate(in: try TemporaryDirectory())
        let base = [
            Attribute(.privateKey), Attribute(.ec), Attribute(.token, false), Attribute(.private, true),
            Attribute(.sign, true),
            Attribute(.ecParams, bytes: key.parameters), Attribute(.value, bytes: key.privateValue),
        ]
        let claimed = #expect(throws: PKCS11Error.self) {
            try session.createObject(
                base + [Attribute(.alwaysAuthenticate, true), Attribute(.certBridgeHasKeyPassword, true)])
        }
        #expect(claimed?.returnValue == .attributeReadOnly)
        let plain = try session.createObject(base)
        #expect(try plain.attributes([.certBridgeHasKeyPassword]).bool(.certBridgeHasKeyPassword) == false)
        let sealed = try session.createObject(
            base + [Attribute(.alwaysAuthenticate, true), Attribute(Self.keyPassword, string: "own-1234")])
        #expect(try sealed.attributes([.certBridgeHasKeyPassword]).bool(.certBridgeHasKeyPassword) == true)
    }

    @Test("private objects are encrypted at rest: no private label, value or key component is on disk; public ones are")
    func encryptedAtRest() throws {
        let (test, session) = try SoftTokenRig.freshSession()
        let marker = UInt32.random(in: 0...UInt32.max)
        let privateLabel = "private-label-\(marker)"
        let privateValue = "private-value-\(marker)"
        let publicLabel = "public-label-\(marker)"
        _ = try session.createObject([
            Attribute(.data), Attribute(.token, true), Attribute(.private, true),
            Attribute(.label, string: privateLabel), Attribute(.value, string: privateValue),
        ])
        _ = try session.createObject([
            Attribute(.data), Attribute(.token, true), Attribute(.private, false),
            Attribute(.label, string: publicLabel), Attribute(.value, string: "public-value"),
        ])
        let rsa = try RSAComponents.generate(in: try TemporaryDirectory())
        _ = try session.createObject(
            rsa.privateTemplate(
                label: "rsa-\(marker)", id: [1],
                extraFlags: [Attribute(.sensitive, true), Attribute(.extractable, false)]))

        let files = try filesUnder(try tokenDirectory(of: test))
        let disk = files.flatMap(\.bytes)
        // The control: the same search finds what is meant to be in the clear.
        #expect(
            disk.contains(bytes: Array(publicLabel.utf8)),
            "the public object's label is not on disk: the search proves nothing")
        for (what, secret) in [
            ("private label", Array(privateLabel.utf8)), ("private value", Array(privateValue.utf8)),
            ("RSA key label", Array("rsa-\(marker)".utf8)), ("RSA private exponent", rsa.privateExponent),
            ("RSA prime", rsa.prime1), ("RSA modulus", rsa.modulus),
        ] {
            #expect(!disk.contains(bytes: secret), "the \(what) is on disk in the clear")
        }
    }

    /// Checks that `root` and everything under it are 0700 directories and 0600 files; returns
    /// how many entries it looked at.
    static func expectPrivateModes(under root: String) throws -> Int {
        func mode(_ path: String) throws -> mode_t {
            var info = stat()
            guard lstat(path, &info) == 0 else { throw TestSupportError("cannot stat \(path)") }
            return info.st_mode
        }
        let top = try mode(root) & 0o7777
        #expect(top == 0o700, "\(root) has mode \(String(top, radix: 8))")
        var seen = 0
        for case let name as String in FileManager.default.enumerator(atPath: root)! {
            let kind = try mode(root + "/" + name)
            if kind & S_IFMT == S_IFDIR {
                #expect(kind & 0o7777 == 0o700, "\(name) is a directory with mode \(String(kind & 0o7777, radix: 8))")
            } else {
                #expect(kind & S_IFMT == S_IFREG, "\(name) is neither file nor directory")
                #expect(kind & 0o7777 == 0o600, "\(name) has mode \(String(kind & 0o7777, radix: 8))")
            }
            seen += 1
        }
        return seen
    }

    @Test("the token's files are 0600 and its directories 0700")
    func permissions() throws {
        let (test, session) = try SoftTokenRig.freshSession()
        _ = try session.createObject([Attribute(.data), Attribute(.token, true), Attribute(.label, string: "mode")])
        _ = try PolicyTests.generate(session, flags: [])
        let root = try tokenDirectory(of: test)
        // At least the token file, objects/ and its three objects were looked at.
        #expect(try Self.expectPrivateModes(under: root) >= 5)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/objects").count == 3)
    }

    @Test("a store the module makes from nothing is private even under umask 000")
    func permissionsWhateverTheUmask() throws {
        let store = try PrivateStore()
        let label = "umask-\(UInt32.random(in: 0...UInt32.max))"
        func tool(_ arguments: [String]) throws {
            let quoted = (["pkcs11-tool", "--module", SoftTokenRig.modulePath] + arguments).map { "'\($0)'" }.joined(
                separator: " ")
            let result = try run("/bin/sh", ["-c", "umask 000 && exec " + quoted], environment: store.environment)
            guard result.status == 0 else { throw TestSupportError("pkcs11-tool \(arguments): \(result.stderr)") }
        }
        try tool(["--init-token", "--label", label, "--so-pin", SoftTokenRig.soPIN])
        try tool([
            "--token-label", label, "--init-pin", "--login", "--login-type", "so", "--so-pin", SoftTokenRig.soPIN,
            "--pin", SoftTokenRig.userPIN,
        ])
        try tool([
            "--token-label", label, "--login", "--pin", SoftTokenRig.userPIN, "--keypairgen", "--key-type",
            "EC:prime256v1", "--label", "k",
        ])
        // store/, its token directory with token, pins, lock and objects/, and the two keys.
        #expect(try Self.expectPrivateModes(under: store.path) >= 7)
    }

    @Test(
        "a second module instance, in another process, sees what this process created; this process sees what it created and destroyed"
    )
    func otherProcessesSeeObjects() throws {
        let (test, session) = try SoftTokenRig.freshSession()
        let env = try SoftTokenRig.environment()
        _ = try session.createObject([
            Attribute(.data), Attribute(.token, true), Attribute(.private, true),
            Attribute(.label, string: "from-test"), Attribute(.value, string: "made in the test process"),
        ])
        let (_, key) = try PolicyTests.generate(session, label: "test-key", flags: [])

        let listed = try OtherProcess.listedObjects(token: test.label, pin: test.userPIN, environment: env)
        #expect(listed["from-test"] == "made in the test process")
        let tool = try OtherProcess.pkcs11Tool(
            ["--token-label", test.label, "--login", "--pin", test.userPIN, "-O"], environment: env)
        #expect(tool.stdout.contains("label:      test-key"), "\(tool.stdout) \(tool.stderr)")
        #expect(tool.stdout.contains("Private Key Object; EC"))

        let written = try OtherProcess.runDriver(
            ["write", "from-child-", "3", "private"], token: test.label, pin: test.userPIN, environment: env)
        #expect(
            written.status == 0 && written.stdout == "from-child-0\nfrom-child-1\nfrom-child-2\n", "\(written.stderr)")
        let seen = try session.findObjects([Attribute(.data)]).map { try $0.attributes([.label, .value]) }
        let byLabel = Dictionary(uniqueKeysWithValues: seen.map { ($0.label ?? "", $0.string(.value) ?? "") })
        for n in 0..<3 { #expect(byLabel["from-child-\(n)"] == "value of from-child-\(n)") }
        // What another process destroys is gone here too.
        let deleted = try OtherProcess.pkcs11Tool(
            [
                "--token-label", test.label, "--login", "--pin", test.userPIN,
                "--delete-object", "--type", "data", "--label", "from-test",
            ], environment: env)
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(try session.findObjects([Attribute(.label, string: "from-test")]).isEmpty)
        #expect(try session.findObjects([Attribute(.data)]).count == 3)

        // The other process's login and writes left this process's key usable.
        try session.signInit(Mechanism(.ecdsaSHA256), key: key)
        #expect(try session.sign(Array("still mine".utf8)).count == 64)
    }
}
