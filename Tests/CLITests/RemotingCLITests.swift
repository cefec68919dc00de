import Foundation
import PKCS11
import TestSupport
import Testing

/// CertBridge against a token on "another machine": the provider module (SoftHSM2, and every
/// other fixture in `TokenFixtures.all`, e.g. the software token once it is added there) is
/// served by `p11-kit server` on a unix socket, and the CLI reaches it only through
/// `p11-kit-client.so` with P11_KIT_SERVER_ADDRESS, as a build machine reaches a signing host.
@Suite("p11-kit remoting through the CLI")
struct RemotingCLITests {
    /// A fresh token of one fixture, served by its own `p11-kit server`.
    @dynamicMemberLookup
    struct Rig {
        let base: FixtureRig
        let server: P11KitServer

        init(_ fixture: any TokenFixture) throws {
            base = try FixtureRig(fixture)
            server = try P11KitServer(
                provider: fixture.modulePath, tokenLabel: base.test.label, environment: try fixture.environment())
        }

        subscript<T>(dynamicMember keyPath: KeyPath<FixtureRig, T>) -> T { base[keyPath: keyPath] }

        func install(_ type: TestKeyType, high: Bool = false, label: String, id: [UInt8]) throws -> InstalledKey {
            try base.install(type, high: high, label: label, id: id)
        }

        /// certbridge through p11-kit-client.so (or `module`, a shim in front of it) and the server's socket.
        func remote(_ arguments: [String], module: String? = nil, environment: [String: String] = [:]) throws
            -> RunResult
        {
            try base.certbridge(
                arguments, module: try module ?? P11KitServer.clientModulePath,
                environment: server.environment.merging(environment) { $1 })
        }

        /// certbridge on the provider module directly, on this machine.
        func local(_ arguments: [String], environment: [String: String] = [:]) throws -> RunResult {
            try base.certbridge(arguments, environment: environment)
        }
    }

    /// A `--json` listing as one canonical line per object (keys sorted), in the listed order.
    static func parsed(_ result: RunResult) throws -> [String] {
        try #require(result.status == 0, "\(result.stderr)")
        let array = try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [Any])
        return try array.map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
        }
    }

    @Test(
        "objects through p11-kit-client.so list exactly what the provider lists locally, flags included; the server leaves nothing behind",
        arguments: TokenFixtures.all)
    func objectsMatchLocal(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture)
        _ = try rig.install(.rsa2048, label: "standard", id: [1])
        _ = try rig.install(.p256, high: true, label: "high", id: [2])
        let remote = try Self.parsed(try rig.remote(["objects", rig.tokenURI, "--json"] + rig.pin))
        let local = try Self.parsed(try rig.local(["objects", rig.tokenURI, "--json"] + rig.pin))
        #expect(remote.count == 6, "two keys, two public keys, two certificates")
        #expect(
            remote.sorted() == local.sorted(),
            "only remote: \(remote.filter { !local.contains($0) }); only local: \(local.filter { !remote.contains($0) })"
        )
        let text = try rig.remote(["objects", rig.tokenURI] + rig.pin)
        #expect(text.stdout.contains("always-authenticate"), "\(text.stdout)")

        let pid = rig.server.processIdentifier
        rig.server.stop()
        #expect(!rig.server.isRunning)
        #expect(kill(pid, 0) != 0, "the server process is gone")
        // With the server gone, the client says so instead of listing nothing.
        let gone = try rig.remote(["objects", rig.tokenURI] + rig.pin)
        #expect(gone.status != 0)
    }

    @Test(
        "import of an openssl-made PFX, check-exportable (0 and 3), and export through remoting: the export works, or fails naming the mechanism p11-kit does not forward",
        arguments: TokenFixtures.all)
    func importCheckExport(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture)
        let open = try PFXFixture.make(in: rig.dir)
        let closed = try PFXFixture.make(ec: "prime256v1", chain: false, in: rig.dir)
        for (pfx, label, exportable) in [(open, "open", true), (closed, "closed", false)] {
            let imported = try rig.remote(
                [
                    "import", pfx.path, "--token", rig.tokenURI, "--password-source", "file:\(pfx.passwordFile)",
                    "--label", label,
                ] + (exportable ? ["--exportable"] : []) + rig.pin)
            #expect(imported.status == 0, "\(label): \(imported.stderr)")
        }
        let openURI = "\(rig.tokenURI);object=open"
        let closedURI = "\(rig.tokenURI);object=closed"
        let yes = try rig.remote(["check-exportable", openURI] + rig.pin)
        #expect(yes.status == 0, "\(yes.stdout) \(yes.stderr)")
        let no = try rig.remote(["check-exportable", closedURI] + rig.pin)
        #expect(no.status == 3, "\(no.stdout) \(no.stderr)")
        #expect(no.stdout.contains("is not exportable"))

        // The imported objects really landed on the provider's token, chain included.
        let listed = try Self.parsed(try rig.local(["objects", rig.tokenURI, "--json"] + rig.pin))
        #expect(
            listed.count == 2 + 2 + 3 + 1,
            "two keys, their public keys, the chained PFX's three certificates and the other's one")

        let password = try rig.dir.write("export-pass", "export-password\n")
        let out = rig.dir.file("exported.pfx")
        let exportArgs = ["export", openURI, "-o", out, "--password-source", "file:\(password)"] + rig.pin
        let exported = try rig.remote(exportArgs)
        if try Self.remoteOffers(rig, mechanism: "AES-KEY-WRAP-PAD", hex: "0x210a") {
            #expect(exported.status == 0, "\(exported.stderr)")
            let key = try run("openssl", ["pkcs12", "-in", out, "-passin", "file:\(password)", "-nocerts", "-nodes"])
                .stdout
            let exportedPub = try run("openssl", ["pkey", "-pubout"], input: Data(key.utf8)).stdout
            let originalPub = try run("openssl", ["x509", "-in", open.certificatePEM, "-pubkey", "-noout"]).stdout
            #expect(!exportedPub.isEmpty && exportedPub == originalPub)
        } else {
            // p11-kit 0.24 drops CKM_AES_KEY_WRAP_PAD (and CKM_AES_CBC_PAD) from what it forwards.
            #expect(exported.status == 1, "\(exported.stderr)")
            #expect(exported.stderr.contains("CKM_AES_KEY_WRAP_PAD"), "\(exported.stderr)")
            #expect(exported.stderr.contains("p11-kit remoting"), "\(exported.stderr)")
            #expect(!exported.stderr.contains("CKR_"), "one clear sentence, not a return code: \(exported.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
            // The key itself is exportable: the same export on the provider's machine works.
            let here = try rig.local(exportArgs)
            #expect(here.status == 0, "\(here.stderr)")
        }
    }

    @Test(
        "High-level signing through remoting: test-sign passes (the token refuses an unapproved use), N signatures send exactly N context logins across the socket, RSA-PSS works, EdDSA's absence is named",
        arguments: TokenFixtures.all)
    func highLevelSigning(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture)
        // The counting shim sits in front of p11-kit-client.so: it sees what CertBridge sends
        // over the socket and the answer the provider gave back.
        let client = try P11KitServer.clientModulePath
        let counting = try CountingModule.make(forwardingTo: client, in: rig.dir)
        let high = try rig.install(.p256, high: true, label: "high", id: [5])
        let standard = try rig.install(.rsa2048, label: "std", id: [6])

        let selfTest = try rig.remote(["test-sign", high.uri, "--json"] + rig.pin)
        try #require(selfTest.status == 0, "\(selfTest.stderr)")
        let report = try selfTest.json(SelfTestJSON.self)
        #expect(report.steps.map(\.name) == ["sign", "verify", "refuse-unapproved", "sign-again"])
        #expect(report.steps.allSatisfy { $0.ok } && report.ok)
        #expect(report.moduleLax == false)
        #expect(report.steps[2].detail.contains("CKR_USER_NOT_LOGGED_IN"))

        let before = try counting.calls().filter { $0.function == "C_Login" && $0.ok && $0.userType == 2 }.count
        let data = try rig.dir.write("data", "sign me remotely\n")
        for round in 1...3 {
            let sig = rig.dir.file("high-\(round).sig")
            let signed = try rig.remote(
                ["sign", high.uri, "--in", data, "--out", sig, "--mechanism", "ecdsa-sha256"] + rig.pin,
                module: counting.path, environment: CountingModule.environment(target: client))
            try #require(signed.status == 0, "\(signed.stderr)")
            let checked = try run(
                "openssl", ["dgst", "-sha256", "-verify", high.publicKeyPEM, "-signature", sig, data])
            #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
        }
        let after = try counting.calls().filter { $0.function == "C_Login" && $0.ok && $0.userType == 2 }.count
        #expect(after - before == 3, "one context login per signature, carried across the socket")
        let signatures = try counting.calls().filter { $0.function == "C_Sign" && $0.ok && $0.fields["query"] == "0" }
            .count
        #expect(signatures == 3)

        // RSA-PSS: p11-kit forwards CKM_RSA_PKCS_PSS but not the SHA-256 combined form; the
        // store hashes here and the signature still verifies.
        let pss = rig.dir.file("pss.sig")
        let signed = try rig.remote(
            ["sign", standard.uri, "--in", data, "--out", pss, "--mechanism", "rsa-pss-sha256"] + rig.pin)
        try #require(signed.status == 0, "\(signed.stderr)")
        let checked = try run(
            "openssl",
            [
                "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest",
                "-verify", standard.publicKeyPEM, "-signature", pss, data,
            ])
        #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")

        // Ed25519, where the provider has CKM_EDDSA but the socket does not carry it: the
        // refusal names the mechanism and p11-kit remoting, instead of CKR_MECHANISM_INVALID.
        guard try rig.test.token().slot.mechanisms().contains(.eddsa),
            try !Self.remoteOffers(rig, mechanism: "EDDSA", hex: "0x1057")
        else { return }
        let edwards = try rig.install(.ed25519, label: "ed", id: [8])
        let refused = try rig.remote(["sign", edwards.uri, "--in", data, "--out", rig.dir.file("ed.sig")] + rig.pin)
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(
            refused.stderr.contains("CKM_EDDSA") && refused.stderr.contains("p11-kit remoting"), "\(refused.stderr)")
    }

    @Test(
        "the pipe transport ssh carries (P11_KIT_SERVER_ADDRESS=\"|p11-kit remote …\"): list and sign, run here without ssh",
        arguments: TokenFixtures.all)
    func pipeTransport(fixture: any TokenFixture) throws {
        let rig = try Rig(fixture)
        rig.server.stop()  // this test needs no socket: every client starts its own `p11-kit remote`
        let key = try rig.install(.p256, label: "piped", id: [7])
        let pipe = [
            "P11_KIT_SERVER_ADDRESS": "|\(try which("p11-kit")) remote --provider \(fixture.modulePath) \(rig.tokenURI)"
        ]
        let listed = try Self.parsed(try rig.remote(["objects", rig.tokenURI, "--json"] + rig.pin, environment: pipe))
        #expect(listed.count == 3)
        let data = try rig.dir.write("data", "through a pipe\n")
        let sig = rig.dir.file("piped.sig")
        let signed = try rig.remote(["sign", key.uri, "--in", data, "--out", sig] + rig.pin, environment: pipe)
        try #require(signed.status == 0, "\(signed.stderr)")
        #expect(
            try run("openssl", ["dgst", "-sha256", "-verify", key.publicKeyPEM, "-signature", sig, data]).status == 0)
    }

    /// Whether the mechanism crosses the socket: pkcs11-tool's list through the client module.
    static func remoteOffers(_ rig: Rig, mechanism: String, hex: String) throws -> Bool {
        let env = try rig.fixture.environment().merging(rig.server.environment) { $1 }
        let listed = try run(
            "pkcs11-tool", ["--module", try P11KitServer.clientModulePath, "--token-label", rig.test.label, "-M"],
            environment: env)
        try #require(listed.status == 0, "\(listed.stderr)")
        let text = listed.stdout.lowercased()
        return text.contains(mechanism.lowercased() + ",") || text.contains("mechtype-" + hex)
    }
}
