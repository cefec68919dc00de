import ArgumentParser
import CertStore

extension CertBridge {
    struct TestSign: StoreCommand {
        static let configuration = CommandConfiguration(
            commandName: "test-sign",
            abstract: "Check that a key signs and that you and the token agree on its password.",
            discussion: """
                Signs a fresh random challenge, verifies it with the key's certificate (or public \
                key object), and for a key at security level High proves that a signature without \
                the key's own login is refused by the token, then that the key signs again with it. \
                A module that signs without the login is reported as lax; CertBridge never relies \
                on that, it logs in for every use itself.

                For an encryption key (the token will not sign with it, or its certificate allows \
                only key encipherment or agreement) it runs the encryption round trip instead: a \
                random secret encrypted to the public key (RSA-OAEP) or agreed with a fresh \
                ephemeral key (ECDH), recovered on the token. The output says which test ran.

                Exit 0 when every step passes, 1 when one fails, 4 for a wrong PIN or password.
                """)

        @Argument(help: ArgumentHelp("The private key (a PKCS#11 URI with object= or id=).", valueName: "URI"))
        var uri: String

        @Option(help: ArgumentHelp("The signature mechanism (default: from the key type).", valueName: "M"))
        var mechanism: String?

        @OptionGroup var keyPassword: KeyPasswordOptions
        @OptionGroup var global: GlobalOptions

        func execute() throws(StoreError) {
            if try runEncryptionRoundTripIfEncryptionKey(uri, keyPassword: keyPassword, command: "test-sign") { return }
            let algorithm = try mechanism.map { (name) throws(StoreError) in try SignatureAlgorithm(name: name) }
            let signer = try signer(for: uri, store: global.store(), keyPassword: keyPassword)
            if !global.json {
                print(
                    "Key \"\(signer.key.label)\": \(signer.key.kind.description), security level \(signer.key.securityLevel.rawValue)"
                )
            }
            let json = global.json
            let report = SigningSelfTest.run(signer, algorithm: algorithm) { step in printStep(step) }
            try finishSelfTest(report, command: "test-sign")
            if !json { print("test-sign passed. It ran the signing round trip (sign, verify).") }
        }
    }
}
