import Foundation
import PCSC
import TestSupport
import Testing

/// The virtual card as real middleware sees it: OpenSC's PIV driver, Yubico's ykcs11 and
/// yubico-piv-tool, with signatures checked by openssl against the certificate on the card.
@Suite("OpenSC and ykcs11 with the virtual card", .serialized)
struct CardToolTests {
    /// A key and a self-signed certificate made by openssl in a fresh directory.
    struct Credentials {
        let directory: URL
        func remove() { try? FileManager.default.removeItem(at: directory) }
        var key: String { directory.appendingPathComponent("key.pem").path }
        var certificate: String { directory.appendingPathComponent("cert.pem").path }
        var publicKey: String { directory.appendingPathComponent("pub.pem").path }
        var data: String { directory.appendingPathComponent("data.txt").path }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    }

    static func makeCredentials(_ keyType: [String]) async throws -> Credentials {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("certbridge-cardtool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let credentials = Credentials(directory: directory)
        let made = try await CardRig.runProcess(
            "openssl",
            ["req", "-x509", "-nodes"] + keyType + [
                "-keyout", credentials.key, "-out", credentials.certificate, "-subj", "/CN=alice",
                "-days", "30",
            ])
        guard made.status == 0 else { throw CardRigError(message: made.combined) }
        _ = try await CardRig.runProcess(
            "openssl",
            [
                "x509", "-in", credentials.certificate,
                "-pubkey", "-noout", "-out",
                credentials.publicKey,
            ])
        try Data("CertBridge signs this.\n".utf8).write(to: URL(fileURLWithPath: credentials.data))
        return credentials
    }

    /// yubico-piv-tool import-key then import-certificate into `slot`.
    static func importToCard(
        _ rig: CardRig, _ credentials: Credentials, slot: String,
        pinPolicy: String
    ) async throws {
        let key = try await rig.pivTool([
            "-s", slot, "-a", "import-key", "-i", credentials.key,
            "--pin-policy=\(pinPolicy)", "--touch-policy=never",
        ])
        #expect(key.status == 0, "\(key.combined)")
        let cert = try await rig.pivTool([
            "-s", slot, "-a", "import-certificate",
            "-i", credentials.certificate,
        ])
        #expect(cert.status == 0, "\(cert.combined)")
    }

    /// Runs `body` on a fresh rig whose card holds a new key made by openssl (`keyType`, as
    /// `openssl req -newkey` takes it) and its certificate in `slot`.
    static func withKeyOnCard(
        _ keyType: [String], slot: String, pinPolicy: String,
        _ body: (CardRig, Credentials) async throws -> Void
    ) async throws {
        let credentials = try await makeCredentials(keyType)
        defer { credentials.remove() }
        try await CardRig.withRig { rig in
            try await importToCard(rig, credentials, slot: slot, pinPolicy: pinPolicy)
            try await body(rig, credentials)
        }
    }

    /// pkcs11-tool --sign with `module`, then openssl verifies against the certificate's key.
    static func signAndVerify(
        _ rig: CardRig, module: String, id: String, mechanism: String,
        _ credentials: Credentials, extra: [String] = []
    ) async throws {
        let signature = credentials.path("sig-\(UUID().uuidString).bin")
        let signed = try await rig.run(
            "pkcs11-tool",
            [
                "--module", module, "--login", "--pin", "123456", "--sign", "--id", id,
                "-m", mechanism, "-i", credentials.data, "-o", signature,
            ] + extra)
        #expect(signed.status == 0, "\(module): \(signed.combined)")
        let verified = try await CardRig.runProcess(
            "openssl",
            [
                "dgst", "-sha256", "-verify", credentials.publicKey, "-signature", signature,
                credentials.data,
            ])
        #expect(
            verified.status == 0 && verified.standardOutput.contains("Verified OK"),
            "\(module): \(verified.combined)")
    }

    @Test("opensc-tool sees a PIV card; pkcs11-tool -L lists it under OpenSC and ykcs11")
    func cardIsSeen() async throws {
        try await CardRig.withRig { rig in
            let atr = try await rig.run("opensc-tool", ["-r", "0", "-a"])
            #expect(atr.standardOutput.lowercased().contains("3b:8c:80:01:80:5a"), "\(atr.combined)")
            let name = try await rig.run("opensc-tool", ["-r", "0", "-n"])
            #expect(
                name.standardOutput.contains("Personal Identity Verification Card"),
                "\(name.combined)")
            let opensc = try await rig.run("pkcs11-tool", ["--module", CardRig.opensc, "-L"])
            #expect(opensc.standardOutput.contains(CardRig.readerName), "\(opensc.combined)")
            #expect(opensc.standardOutput.contains("PIV_II"), "\(opensc.combined)")
            let ykcs11 = try await rig.run("pkcs11-tool", ["--module", CardRig.ykcs11, "-L"])
            #expect(ykcs11.standardOutput.contains("YubiKey PIV #13371337"), "\(ykcs11.combined)")
        }
    }

    @Test("an RSA key imported with PIN policy always signs through OpenSC and ykcs11; openssl verifies")
    func rsaAlwaysAuthenticate() async throws {
        try await Self.withKeyOnCard(["-newkey", "rsa:2048"], slot: "9c", pinPolicy: "always") { rig, credentials in
            // 9C (digital signature) is PKCS#15 id 02 in both modules.
            try await Self.signAndVerify(
                rig, module: CardRig.opensc, id: "02",
                mechanism: "SHA256-RSA-PKCS", credentials)
            try await Self.signAndVerify(
                rig, module: CardRig.ykcs11, id: "02",
                mechanism: "SHA256-RSA-PKCS", credentials)
            let objects = try await rig.run(
                "pkcs11-tool",
                [
                    "--module", CardRig.ykcs11,
                    "--login", "--pin", "123456", "-O",
                ])
            #expect(objects.standardOutput.contains("CN=alice"), "\(objects.combined)")
        }
    }

    @Test("a P-256 key in 9A signs ECDSA through OpenSC and ykcs11; openssl verifies")
    func ecdsa() async throws {
        try await Self.withKeyOnCard(
            ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], slot: "9a", pinPolicy: "once"
        ) { rig, credentials in
            for module in [CardRig.opensc, CardRig.ykcs11] {
                try await Self.signAndVerify(
                    rig, module: module, id: "01",
                    mechanism: "ECDSA-SHA256", credentials,
                    extra: ["--signature-format", "openssl"])
            }
        }
    }

    @Test("keys and certificates survive pulling and re-inserting the card")
    func statePersists() async throws {
        try await Self.withKeyOnCard(["-newkey", "rsa:2048"], slot: "9a", pinPolicy: "once") { rig, credentials in
            try await rig.pull()
            let empty = try await rig.run("pkcs11-tool", ["--module", CardRig.opensc, "-L"])
            #expect(!empty.standardOutput.contains("PIV_II"), "\(empty.combined)")
            try await rig.insert()
            let objects = try await rig.run("pkcs11-tool", ["--module", CardRig.opensc, "-O"])
            #expect(objects.standardOutput.contains("CN=alice"), "\(objects.combined)")
            try await Self.signAndVerify(
                rig, module: CardRig.opensc, id: "01",
                mechanism: "SHA256-RSA-PKCS", credentials)
        }
    }
}
