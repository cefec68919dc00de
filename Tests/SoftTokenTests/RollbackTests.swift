import Foundation
import PKCS11
import TestSupport
import Testing

/// Flags only tighten, also against file copies: an object file put back from before a change
/// (or after a destroy) is refused, never used.
@Suite("software token: rollback of object files")
struct RollbackTests {
    /// An extractable sensitive key pair made on a fresh token, its private key's object file,
    /// and that file's bytes now (the copy a test puts back later).
    static func keyAndFile(label: String) throws -> (
        test: TestToken, session: Session, key: Object, file: String, bytes: Data
    ) {
        let (test, session) = try SoftTokenRig.freshSession()
        let (_, key) = try PolicyTests.generate(
            session, label: label, flags: [Attribute(.sensitive, true), Attribute(.extractable, true)])
        let file = try tokenDirectory(of: test) + "/objects/" + String(key.handle, radix: 16)
        return (test, session, key, file, try Data(contentsOf: URL(fileURLWithPath: file)))
    }

    @Test(
        "a key's file copied while exportable and put back after the key was made non-exportable: check-exportable does not say exportable and export fails"
    )
    func singleFileRollback() throws {
        let (test, session, key, file, exportable) = try Self.keyAndFile(label: "rolled")
        // The refused file goes at the end, so listings by other tests in this process stay clean.
        defer { unlink(file) }
        let pin = ["--pin-source", "env:PIN", "--module", SoftTokenRig.modulePath]
        let env = ["PIN": test.userPIN]
        let uri = "pkcs11:token=\(test.label);object=rolled"
        let before = try CLI.run(["check-exportable", uri] + pin, environment: env)
        #expect(before.status == 0, "\(before.stdout) \(before.stderr)")

        try session.setAttributes([Attribute(.extractable, false)], of: key)
        try exportable.write(to: URL(fileURLWithPath: file))

        let after = try CLI.run(["check-exportable", uri] + pin, environment: env)
        #expect(after.status != 0, "the restored old file made the key exportable again: \(after.stdout)")
        #expect(!after.stdout.contains("is exportable"))
        let dir = try TemporaryDirectory()
        let export = try CLI.run(
            ["export", uri, "-o", dir.file("out.pfx")] + pin + ["--password-source", "env:PFXPASS"],
            environment: env.merging(["PFXPASS": "export-pass"]) { $1 })
        #expect(export.status != 0, "export of a rolled-back key succeeded")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.pfx")))

        // Reported, with a non-zero exit.
        let objects = try CLI.run(["objects", "pkcs11:token=\(test.label)"] + pin, environment: env)
        #expect(objects.status == 1)
        #expect(objects.stderr.contains("1 object failed its integrity check"), "\(objects.stderr)")
        #expect(objects.stderr.contains("older copy"), "\(objects.stderr)")
    }

    @Test(
        "a damaged public object file: certbridge tokens says an object failed its integrity check, with a non-zero exit"
    )
    func damagedFileReported() throws {
        // A store of its own: the damage is seen by no other test's listing.
        let (store, label) = try PrivateStore.withToken("damaged")
        let written = try OtherProcess.runDriver(
            ["write", "d", "1", "public"], token: label, pin: SoftTokenRig.userPIN,
            environment: store.environment)
        try #require(written.status == 0, "\(written.stderr)")
        let objects = try store.tokenDirectory() + "/objects"
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: objects).first)
        try Data("not an object file".utf8).write(to: URL(fileURLWithPath: objects + "/" + name))
        let tokens = try CLI.run(["tokens", "--module", SoftTokenRig.modulePath], environment: store.environment)
        #expect(tokens.status == 1)
        #expect(tokens.stderr.contains("1 object failed its integrity check"), "\(tokens.stderr)")
        #expect(tokens.stderr.contains("token \"\(label)\": object \(name) is damaged"), "\(tokens.stderr)")
    }

    @Test(
        "a certificate object's value changed in its file (the catalog vouches for public objects too): objects and tokens say 1 object failed its integrity check and exit 1"
    )
    func forgedCertificateReported() throws {
        // A store of its own: the forgery is seen by no other test's listing.
        let (store, label) = try PrivateStore.withToken("forged")
        let dir = try TemporaryDirectory()
        let pfx = try PFXFixture.make(ec: "prime256v1", chain: false, in: dir)
        try dir.write("pin", SoftTokenRig.userPIN)
        let pin = ["--pin-source", "file:\(dir.file("pin"))", "--module", SoftTokenRig.modulePath]
        let imported = try CLI.run(
            ["import", pfx.path, "--token", "pkcs11:token=\(label)", "--password-source", "file:\(pfx.passwordFile)"]
                + pin,
            environment: store.environment)
        try #require(imported.status == 0, "\(imported.stdout) \(imported.stderr)")
        let clean = try CLI.run(["objects", "pkcs11:token=\(label)"] + pin, environment: store.environment)
        try #require(clean.status == 0, "\(clean.stderr)")

        // The certificate's DER inside its (public, plain) object file: one byte of its signature changed.
        _ = try run("openssl", ["x509", "-in", pfx.certificatePEM, "-outform", "DER", "-out", dir.file("cert.der")])
        let der = try Data(contentsOf: URL(fileURLWithPath: dir.file("cert.der")))
        let objects = try store.tokenDirectory() + "/objects"
        var forged = false
        for name in try FileManager.default.contentsOfDirectory(atPath: objects) {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: objects + "/" + name))
            guard let range = bytes.range(of: der) else { continue }
            bytes[range.upperBound - 1] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: objects + "/" + name))
            forged = true
        }
        try #require(forged, "no object file holds the certificate")

        let listed = try CLI.run(["objects", "pkcs11:token=\(label)"] + pin, environment: store.environment)
        #expect(listed.status == 1, "\(listed.stdout)")
        #expect(listed.stderr.contains("1 object failed its integrity check"), "\(listed.stderr)")
        let tokens = try CLI.run(["tokens", "--module", SoftTokenRig.modulePath], environment: store.environment)
        #expect(tokens.status == 1)
        #expect(tokens.stderr.contains("1 object failed its integrity check"), "\(tokens.stderr)")
    }

    @Test("a destroyed key's file put back is not used again")
    func destroyedFilePutBack() throws {
        let (test, session, key, file, copy) = try Self.keyAndFile(label: "gone")
        defer { unlink(file) }
        try session.destroy(key)
        try copy.write(to: URL(fileURLWithPath: file))
        let listed = try OtherProcess.pkcs11Tool(
            ["--token-label", test.label, "--login", "--pin", test.userPIN, "-O", "--type", "privkey"],
            environment: try SoftTokenRig.environment())
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(!listed.stdout.contains("gone"), "the destroyed key is back: \(listed.stdout)")
    }
}
