import TestSupport
import Testing

@testable import CertStore

/// The sentence a person gets when a token lacks a mechanism CertBridge needs. The remote case
/// (p11-kit-client.so) is proven end to end in RemotingCLITests.
@Suite("missing mechanisms")
struct MissingMechanismTests {
    @Test("a module loaded here is named as the one that does not offer the mechanisms")
    func direct() throws {
        let test = try SoftHSM.freshToken()
        let token = try test.storeToken()
        #expect(TokenRoute(token) == .direct)
        let error = StoreError.missingMechanism([.aesKeyWrapPad, .aesCBCPad], for: "exporting \"k\"", token: token)
        #expect(
            error.reason
                == "exporting \"k\" needs CKM_AES_KEY_WRAP_PAD or CKM_AES_CBC_PAD, and the token \"\(test.label)\" (module libsofthsm2.so) does not offer them"
        )
        let one = StoreError.missingMechanism([.eddsa], for: "making eddsa signatures", token: token)
        #expect(
            one.reason.hasSuffix(
                "needs CKM_EDDSA, and the token \"\(test.label)\" (module libsofthsm2.so) does not offer it"))
        #expect(one.code == .failed)
    }
}
