import TestSupport

@testable import CertStore

extension TestToken {
    /// The test token as the store hands tokens out (CertStore's `Token` over TestSupport's
    /// PKCS#11 one).
    func storeToken() throws -> Token { Token(try token()) }
}
