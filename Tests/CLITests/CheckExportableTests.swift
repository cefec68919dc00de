import Foundation
import PKCS11
import TestSupport
import Testing

@Suite("check-exportable through the CLI")
struct CheckExportableTests {
    struct Answer: Decodable {
        let exportable: Bool
        let reason: String
        let label: String
    }

    @Test(
        "exit 0 for an exportable key, 3 for a non-exportable one, 5 for none; --json carries the reason",
        arguments: TokenFixtures.all)
    func exitCodes(fixture: any TokenFixture) throws {
        let test = try fixture.freshToken()
        let dir = try TemporaryDirectory()
        let session = try test.userSession()
        let rsa = try RSAComponents.generate(in: dir)
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
        let pin = ["--pin-source", "env:PIN", "--module", fixture.modulePath]
        let env = ["PIN": test.userPIN]

        let open = try CLI.run(["check-exportable", "pkcs11:token=\(test.label);object=open"] + pin, environment: env)
        #expect(open.status == 0)
        #expect(open.stdout.contains("is exportable: CKA_EXTRACTABLE=true"))

        let closed = try CLI.run(
            ["check-exportable", "pkcs11:token=\(test.label);object=closed"] + pin, environment: env)
        #expect(closed.status == 3)
        #expect(closed.stdout.contains("is not exportable: CKA_EXTRACTABLE=false, CKA_NEVER_EXTRACTABLE=true"))

        let json = try CLI.run(
            ["check-exportable", "pkcs11:token=\(test.label);object=closed", "--json"] + pin, environment: env)
        #expect(json.status == 3)
        let answer = try JSONDecoder().decode(Answer.self, from: json.stdoutData)
        #expect(!answer.exportable && answer.label == "closed")

        let missing = try CLI.run(
            ["check-exportable", "pkcs11:token=\(test.label);object=nothing"] + pin, environment: env)
        #expect(missing.status == 5)
        #expect(missing.stderr.contains("no private key matches"))
    }
}
