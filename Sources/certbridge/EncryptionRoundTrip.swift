import CertStore

extension StoreCommand {
    /// For an encryption key (`test-sign`, `enroll verify`): runs the encrypt → decrypt round
    /// trip instead of signing, prints which test ran, and returns true. False for a signing key.
    func runEncryptionRoundTripIfEncryptionKey(_ text: String, keyPassword: KeyPasswordOptions, command: String)
        throws(StoreError) -> Bool
    {
        let uri = try parseURI(text)
        let store = try global.store()
        let pin = try global.pinProvider(store, uri: text)
        guard try store.usage(of: uri, pin: pin) == .encryption else { return false }
        let (provider, attempts) = try keyPassword.provider(global: global, uri: text)
        let json = global.json
        if !json {
            print(
                "Encryption key: running the encryption round trip (encrypt to the public key, decrypt on the token).")
        }
        let report = try store.encryptionSelfTest(uri, pin: pin, keyPassword: provider, attempts: attempts) { step in
            printStep(step)
        }
        try finishSelfTest(report, command: command)
        if !json { print("\(command) passed: the encryption round trip (\(report.mechanism)) works.") }
        return true
    }
}
