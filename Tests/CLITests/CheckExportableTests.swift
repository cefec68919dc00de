import Foundation
import PKCS11
import TestSupport
import Testing

@Suite("check-exportable through the CLI")
struct CheckExportableTests {
    @Test(
        "exit 0 for an exportable key, 3 for a non-exportable one, 5 for none; --json carries the reason",
        arguments: TokenFixtures.all)
    func exitCodes(fixture: any TokenFixture) throws {
        let cli = try TokenCLI(fixture)
        let session = try cli.test.userSession()
        let rsa = try RSAComponents.generate(in: cli.dir)
        _ = try session.createObject(
            rsa.privateTemplate(
                label: "open", id: [1], extraFlags: [Attribute(.sensitive, true), Attribute(.extractable, true)]))
        _ = try session.generateKeyPair(
            Mechanism(.ecKeyPairGen),
            publicTemplate: [Attribute(.ecParams, bytes: p256)],
            privateTemplate: [
                Attribute(.token, true), Attribute(.private, true), Attribute(.sign, true), Attribute(.sensitive, true),
                Attribute(.extractable, false), Attribute(.label, string: "closed"), Attribute(.id, bytes: [2]),
            ])

        let open = try cli.run(["check-exportable", cli.uri("open")])
        #expect(open.status == 0)
        #expect(open.stdout.contains("is exportable: CKA_EXTRACTABLE=true"))

        let closed = try cli.run(["check-exportable", cli.uri("closed")])
        #expect(closed.status == 3)
        #expect(closed.stdout.contains("is not exportable: CKA_EXTRACTABLE=false, CKA_NEVER_EXTRACTABLE=true"))

        let json = try cli.run(["check-exportable", cli.uri("closed"), "--json"])
        #expect(json.status == 3)
        let answer = try json.json(ExportabilityJSON.self)
        #expect(!answer.exportable && answer.label == "closed")

        let missing = try cli.run(["check-exportable", cli.uri("nothing")])
        #expect(missing.status == 5)
        #expect(missing.stderr.contains("no private key matches"))
    }
}
