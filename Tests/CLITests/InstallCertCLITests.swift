import Foundation
import PKCS11
import TestSupport
import Testing

/// `certbridge install-cert` on its own: the chain goes on as authority certificates, the tokens
/// searched are named when nothing matches, and a second install changes nothing.
@Suite("install-cert through the CLI")
struct InstallCertCLITests {
    @Test("--chain adds the CAs as authority certificates; installing again reports and writes nothing")
    func chainAndDuplicate() throws {
        let cli = try TokenCLI.softHSM()
        let csr = cli.dir.file("req.csr")
        let made = try cli.run([
            "enroll", "new", "--subject", "CN=chained.example", "--key", "ec:p256", "--token", cli.tokenURI, "-o", csr,
        ])
        try #require(made.status == 0, "\(made.stderr)")

        // A root and an issuing CA, made with openssl; the issuing CA signs the request.
        let root = try TestCA(subject: "/CN=Install Root CA", in: cli.dir)
        let mid = try TestCA(subject: "/CN=Install Issuing CA", issuer: root, in: cli.dir)
        let issued = try mid.issue(csr)
        let chain = try cli.dir.write(
            "chain.pem",
            try String(contentsOfFile: mid.certificatePEM, encoding: .utf8)
                + String(contentsOfFile: root.certificatePEM, encoding: .utf8))

        let first = try cli.json(
            InstallJSON.self, ["install-cert", issued, "--chain-file", chain, "--token", cli.tokenURI])
        #expect(first.installed && first.chainAdded == 2 && first.chainAlreadyPresent == 0)
        let objects = try cli.objects()
        let authorities = objects.filter { $0.certificate?.category == "authority" }.compactMap {
            $0.certificate?.subject
        }
        #expect(authorities.count == 2)
        #expect(
            authorities.contains { $0.contains("Install Root CA") }
                && authorities.contains { $0.contains("Install Issuing CA") })
        let user = objects.filter { $0.certificate?.category == "user" }
        #expect(user.count == 1 && user.first?.id == first.id && user.first?.label == "chained.example")

        let before = try cli.test.snapshot()
        let again = try cli.run(["install-cert", issued, "--chain-file", chain, "--token", cli.tokenURI])
        #expect(again.status == 0)
        #expect(again.stdout.contains("already on \"\(cli.test.label)\""))
        #expect(again.stdout.contains("Chain: 0 added, 2 already present."))
        #expect(try cli.test.snapshot() == before, "nothing is written twice")
    }

    @Test("a certificate that matches no key pair exits 5 naming every token searched")
    func noMatchNamesAllTokens() throws {
        // A SoftHSM2 of its own, so "every token" is exactly the two made here.
        let softHSM = try PrivateSoftHSM()
        let labels = ["search-one", "search-two"]
        for label in labels { try softHSM.initToken(label: label) }
        let stranger = try makeCertificate(
            keyPEM: try ECComponents.generate(in: softHSM.dir).pem, subject: "/CN=Nobody Known", in: softHSM.dir)
        // No --token: no token holds its public key, and none was named, so none is logged in
        // to (the PIN is for the token the command names); each is named as not searched.
        let result = try softHSM.certbridge(["install-cert", stranger.pemPath] + softHSM.pin)
        #expect(result.status == 5, "\(result.stderr)")
        #expect(result.stderr.contains("no key pair on any token searched matches"), "\(result.stderr)")
        for label in labels { #expect(result.stderr.contains("\"\(label)\""), "\(label) was searched") }
        #expect(result.stderr.contains("Nobody Known"))
    }

    @Test(
        "a key pair made by another tool, with an id that is not CertBridge's, is found by its public key",
        arguments: ["rsa", "ec", "rsa-no-public"])
    func foreignKeyPair(kind: String) throws {
        let cli = try TokenCLI.softHSM()
        let dir = cli.dir
        let id: [UInt8] = [0x0F, 0x0E]
        let keyPEM: String
        do {
            let session = try cli.test.userSession()
            let flags = [Attribute(.sensitive, true), Attribute(.extractable, false)]
            if kind == "ec" {
                let ec = try ECComponents.generate(in: dir)
                keyPEM = ec.pem
                _ = try session.createObject(
                    [
                        Attribute(.privateKey), Attribute(.ec), Attribute(.token, true), Attribute(.private, true),
                        Attribute(.sign, true), Attribute(.label, string: "foreign"), Attribute(.id, bytes: id),
                        Attribute(.ecParams, bytes: ec.parameters), Attribute(.value, bytes: ec.privateValue),
                    ] + flags)
                _ = try session.createObject([
                    Attribute(.publicKey), Attribute(.ec), Attribute(.token, true), Attribute(.verify, true),
                    Attribute(.label, string: "foreign"), Attribute(.id, bytes: id),
                    Attribute(.ecParams, bytes: ec.parameters), Attribute(.ecPoint, bytes: ec.point),
                ])
            } else {
                let rsa = try RSAComponents.generate(in: dir)
                keyPEM = rsa.pem
                _ = try session.createObject(rsa.privateTemplate(label: "foreign", id: id, extraFlags: flags))
                if kind == "rsa" { _ = try session.createObject(rsa.publicTemplate(label: "foreign", id: id)) }
            }
        }
        let issued = try makeCertificate(keyPEM: keyPEM, subject: "/CN=Foreign Key", in: dir)
        let installed = try cli.json(InstallJSON.self, ["install-cert", issued.pemPath, "--token", cli.tokenURI])
        #expect(installed.installed)
        #expect(installed.id == "0f0e", "the certificate takes the key's own id")
        let objects = try cli.objects(";type=cert")
        #expect(objects.count == 1 && objects.first?.id == "0f0e" && objects.first?.label == "foreign")
    }

    @Test(
        "searching every token, enroll list and install-cert try the PIN on no token they were not told about: each is skipped and named, and named with --token it is searched"
    )
    func tokenWithAnotherPIN() throws {
        let softHSM = try PrivateSoftHSM()
        // "other-pin" sorts and is made first, so it is met before the token that holds the key.
        try softHSM.initToken(label: "other-pin", pin: "86420")
        try softHSM.initToken(label: "holder")
        let pin = softHSM.pin
        let csr = softHSM.dir.file("req.csr")
        let made = try softHSM.certbridge(
            ["enroll", "new", "--subject", "CN=on.holder", "--token", "pkcs11:token=holder", "-o", csr] + pin)
        try #require(made.status == 0, "\(made.stderr)")
        let issued = try TestCA(subject: "/CN=Holder CA", in: softHSM.dir).issue(csr)

        // enroll list over every token: "other-pin" holds no pending pair, so it is not logged
        // in to at all; "holder" does, but was not named, so with no terminal to ask it is
        // skipped and named (exit 2), and no PIN is tried on either.
        func pinState(_ label: String) throws -> String? {
            let tokens = try softHSM.json([TokenJSON].self, ["tokens"])
            return tokens.first(where: { $0.label == label })?.pinState
        }
        let listed = try softHSM.certbridge(["enroll", "list", "--json"] + pin)
        #expect(listed.status == 2, "\(listed.stderr)")
        #expect(try listed.json([PendingJSON].self).isEmpty)
        #expect(listed.stderr.contains("not searched: \"holder\" (no PIN is given for it"), "\(listed.stderr)")
        #expect(!listed.stderr.contains("other-pin"), "a token with nothing pending needs no login: \(listed.stderr)")
        #expect(try pinState("other-pin") == "ok", "no PIN was tried on the token with another PIN")
        let holderOnly = try softHSM.json(
            [PendingJSON].self, ["enroll", "list", "--token", "pkcs11:token=holder"] + pin)
        #expect(holderOnly.map(\.token) == ["holder"])
        let named = try softHSM.certbridge(["enroll", "list", "--token", "pkcs11:token=other-pin"] + pin)
        #expect(named.status == 4, "a token named in the URI is not skipped: \(named.stdout)")

        // install-cert finds the pair's public key on "holder" without a login, and says which
        // --token to add; named, it installs.
        let unnamed = try softHSM.certbridge(["install-cert", issued] + pin)
        #expect(unnamed.status == 2, "\(unnamed.stderr)")
        #expect(unnamed.stderr.contains("is on \"holder\""), "\(unnamed.stderr)")
        let installed = try softHSM.certbridge(["install-cert", issued, "--token", "pkcs11:token=holder"] + pin)
        #expect(installed.status == 0, "\(installed.stderr)")
        #expect(installed.stdout.contains("on \"holder\""))

        // A certificate that matches nothing exits 5, naming the tokens not searched.
        let stranger = try makeCertificate(
            keyPEM: try ECComponents.generate(in: softHSM.dir).pem, subject: "/CN=Nobody Here", in: softHSM.dir)
        let missed = try softHSM.certbridge(["install-cert", stranger.pemPath] + pin)
        #expect(missed.status == 5, "\(missed.stderr)")
        #expect(missed.stderr.contains("no key pair on any token searched matches"), "\(missed.stderr)")
        #expect(missed.stderr.contains("\"other-pin\" (no PIN is given for it"), "\(missed.stderr)")
    }
}
