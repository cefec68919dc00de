import Foundation
import Testing
import TestSupport
import PKCS11

/// Flags only tighten, also against file copies: an object file put back from before a change
/// (or after a destroy) is refused, never used.
@Suite("software token: rollback of object files")
struct RollbackTests {
    @Test("a key's file copied while exportable and put back after the key was made non-exportable: check-exportable does not say exportable and export fails")
    func singleFileRollback() throws {
        let test = try SoftTokenRig.freshToken()
        let session = try test.userSession()
        let (_, key) = try PolicyTests.generate(session, label: "rolled", flags: [Attribute(.sensitive, true), Attribute(.extractable, true)])
        let file = try tokenDirectory(of: test) + "/objects/" + String(key.handle, radix: 16)
        let exportable = try Data(contentsOf: URL(fileURLWithPath: file))
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
        let export = try CLI.run(["export", uri, "-o", dir.file("out.pfx")] + pin + ["--password-source", "env:PFXPASS"],
                                 environment: env.merging(["PFXPASS": "export-pass"]) { $1 })
        #expect(export.status != 0, "export of a rolled-back key succeeded")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.pfx")))
    }

    @Test("a destroyed key's file put back is not used again")
    func destroyedFilePutBack() throws {
        let test = try SoftTokenRig.freshToken()
        let session = try test.userSession()
        let (_, key) = try PolicyTests.generate(session, label: "gone", flags: [Attribute(.sensitive, true), Attribute(.extractable, true)])
        let file = try tokenDirectory(of: test) + "/objects/" + String(key.handle, radix: 16)
        let copy = try Data(contentsOf: URL(fileURLWithPath: file))
        try session.destroy(key)
        try copy.write(to: URL(fileURLWithPath: file))
        let listed = try OtherProcess.pkcs11Tool(["--token-label", test.label, "--login", "--pin", test.userPIN, "-O", "--type", "privkey"],
                                                 environment: try SoftTokenRig.environment())
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(!listed.stdout.contains("gone"), "the destroyed key is back: \(listed.stdout)")
    }
}
