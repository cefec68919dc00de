import Foundation
import TestSupport
import Testing

/// Without --module, CertBridge asks every module registered with p11-kit; SoftHSM2 registers
/// itself on Debian, so a test token is found with no module named.
@Suite("p11-kit's modules by default")
struct DefaultModulesTests {
    struct TokenJSON: Decodable {
        let label: String
        let module: String
    }

    @Test("tokens and objects without --module find a SoftHSM2 token through p11-kit's registration")
    func registeredModules() throws {
        let test = try SoftHSM.freshToken()
        let tokens = try CLI.json([TokenJSON].self, ["tokens"])
        let mine = try #require(tokens.first { $0.label == test.label }, "\(tokens.map(\.label))")
        #expect(mine.module.hasSuffix("libsofthsm2.so"))
        #expect(tokens.allSatisfy { !$0.module.contains("p11-kit-trust") }, "the trust-policy module is left out")
        let objects = try CLI.run(
            ["objects", "pkcs11:token=\(test.label)", "--pin-source", "env:PIN"], environment: ["PIN": test.userPIN])
        #expect(objects.status == 0, "\(objects.stderr)")
        #expect(objects.stdout.contains("No objects."))
    }
}
