import Foundation
import TestSupport
import Testing

/// `certbridge readers` and imports onto a smart card, end to end through the built binary, with
/// the virtual PIV card in a private pcscd (Tests/VirtualCard): ykcs11 writes, OpenSC signs.
@Suite("smart cards through the CLI", .serialized)
struct CardCLITests {
    /// The factory management key of the virtual card (and of a YubiKey), and its PIN.
    static let managementKey = "010203040506070801020304050607080102030405060708"
    static let cardPIN = "123456"

    /// What `readers --json` prints, as far as the tests read it.
    struct Reader: Decodable {
        struct Slot: Decodable {
            let module: String
            let slot: UInt
            let token: String?
            let uri: String?
        }
        let reader: String
        let cardPresent: Bool
        let atr: String?
        let card: String?
        let tokens: [Slot]
    }

    /// Files the card tests share: a PFX made by openssl, the PIN and the management key.
    struct Files {
        let dir: TemporaryDirectory
        let pfx: PFXFixture
        let pinFile: String
        let managementKeyFile: String
        let data: String

        init(ec curve: String? = nil) throws {
            dir = try TemporaryDirectory("certbridge-cardcli")
            pfx = try PFXFixture.make(ec: curve, rsaBits: 2048, chain: true, in: dir)
            pinFile = try dir.write("pin", CardCLITests.cardPIN + "\n")
            managementKeyFile = try dir.write("mgm", CardCLITests.managementKey + "\n")
            data = try dir.write("data.txt", "CertBridge signs this on a card.\n")
        }
    }

    /// Runs certbridge against the rig's pcscd; standard input is empty, so nothing waits on a tty.
    static func certbridge(_ rig: CardRig, _ arguments: [String]) async throws -> CardCommandResult {
        try await rig.run(CLI.path, arguments, input: Data())
    }

    /// certbridge through OpenSC, the module that signs on the card, with the card PIN from its file.
    static func throughOpenSC(_ rig: CardRig, _ files: Files, _ arguments: [String]) async throws
        -> CardCommandResult
    {
        try await certbridge(rig, arguments + ["--module", CardRig.opensc, "--pin-source", "file:\(files.pinFile)"])
    }

    static func readers(_ rig: CardRig) async throws -> [Reader] {
        let result = try await certbridge(
            rig, ["readers", "--json", "--module", CardRig.opensc, "--module", CardRig.ykcs11])
        try #require(result.status == 0, "\(result.combined)")
        return try JSONDecoder().decode([Reader].self, from: Data(result.standardOutput.utf8))
    }

    /// The URI of the card's token in `module` (the module's real path may add a version), as `readers` reports it.
    static func tokenURI(_ rig: CardRig, module: String) async throws -> String {
        let reader = try #require(try await readers(rig).first { $0.reader == CardRig.readerName })
        let slot = try #require(
            reader.tokens.first { $0.module.hasPrefix(module) && $0.uri != nil }, "no token of \(module) in \(reader)")
        return try #require(slot.uri)
    }

    /// `certbridge import` of the PFX onto the card's token in `module`, with `options` after.
    static func importPFX(_ rig: CardRig, _ files: Files, module: String, _ options: [String]) async throws
        -> CardCommandResult
    {
        let token = try await tokenURI(rig, module: module)
        return try await certbridge(
            rig,
            [
                "import", files.pfx.path, "--module", module, "--token", token,
                "--password-source", "file:\(files.pfx.passwordFile)",
            ] + options)
    }

    /// Imports the PFX onto the card through ykcs11, with the management key.
    static func importOntoCard(_ rig: CardRig, _ files: Files, level: String, extra: [String] = []) async throws
        -> CardCommandResult
    {
        try await importPFX(
            rig, files, module: CardRig.ykcs11,
            ["--security-level", level, "--so-pin-source", "file:\(files.managementKeyFile)"] + extra)
    }

    /// Runs `body` with a started rig whose card holds the PFX, imported through ykcs11 at `level`
    /// (the import must succeed), and what the import printed.
    static func withImported(
        _ files: Files, level: String, extra: [String] = [],
        _ body: (CardRig, CardCommandResult) async throws -> Void
    ) async throws {
        try await CardRig.withRig { rig in
            let imported = try await importOntoCard(rig, files, level: level, extra: extra)
            try #require(imported.status == 0, "\(imported.combined)")
            try await body(rig, imported)
        }
    }

    @Test("readers lists the card's reader with the card, its ATR, its name, and its OpenSC and ykcs11 tokens")
    func readersShowTheCard() async throws {
        try await CardRig.withRig { rig in
            let reader = try #require(try await Self.readers(rig).first { $0.reader == CardRig.readerName })
            #expect(reader.cardPresent)
            #expect(reader.atr == CardRig.atrHex)
            #expect(reader.card == "CertBridge virtual PIV card")
            #expect(reader.tokens.contains { $0.module.hasPrefix(CardRig.opensc) && $0.token != nil })
            #expect(
                reader.tokens.contains { $0.module.hasPrefix(CardRig.ykcs11) && $0.token?.contains("13371337") == true }
            )

            let text = try await Self.certbridge(rig, ["readers", "--module", CardRig.opensc])
            #expect(text.status == 0, "\(text.combined)")
            #expect(text.standardOutput.contains(CardRig.readerName))
            #expect(
                text.standardOutput.contains("ATR:") && text.standardOutput.contains(CardRig.atrHex),
                "\(text.standardOutput)")

            try await rig.pull()
            let empty = try #require(try await Self.readers(rig).first { $0.reader == CardRig.readerName })
            #expect(!empty.cardPresent)
            #expect(empty.atr == nil)
        }
    }

    @Test("readers --watch --json reports the card's removal and its re-insertion, one JSON line each")
    func watchReportsRemovalAndInsertion() async throws {
        try await CardRig.withRig { rig in
            let watch = try LineWatcher(CLI.path, ["readers", "--watch", "--json"], environment: rig.environment)
            defer { watch.stop() }
            // The watch starts with what is present: the card already in the reader.
            let first = await watch.waitForLine(count: 1) { $0.contains("\"card-inserted\"") }
            try #require(first, "no initial card-inserted line: \(watch.lines)")
            try await rig.pull()
            let removed = await watch.waitForLine(count: 1) { $0.contains("\"card-removed\"") }
            #expect(removed, "no card-removed line: \(watch.lines)")
            try await rig.insert()
            let inserted = await watch.waitForLine(count: 2) { $0.contains("\"card-inserted\"") }
            #expect(inserted, "no second card-inserted line: \(watch.lines)")

            let events = watch.lines.compactMap { line -> [String: String]? in
                try? JSONDecoder().decode([String: String].self, from: Data(line.utf8))
            }
            let cardEvents = events.filter {
                $0["reader"] == CardRig.readerName && $0["event"]?.hasPrefix("card-") == true
            }
            #expect(
                cardEvents.map { $0["event"] ?? "" } == ["card-inserted", "card-removed", "card-inserted"],
                "\(watch.lines)")
            #expect(cardEvents.last?["atr"] == CardRig.atrHex)
        }
    }

    @Test(
        "a PFX imported onto the card at the High level signs through OpenSC with the PIN, refuses an unapproved second signature, and is not exportable"
    )
    func importHighThenTestSign() async throws {
        let files = try Files()
        try await Self.withImported(files, level: "high", extra: ["--json"]) { rig, imported in
            let result = try decodeCLIJSON(ImportJSON.self, from: Data(imported.standardOutput.utf8))
            #expect(result.id == "02")  // slot 9C: PIN policy "always"
            let key = try #require(result.objects.first { $0.class == "private-key" })
            #expect(key.flags?.alwaysAuthenticate == true)
            #expect(key.flags?.extractable == false)
            #expect(
                result.notes.contains { $0.contains("chain certificate(s)") && $0.contains("not placed") },
                "\(result.notes)")
            #expect(
                !imported.standardOutput.contains(Self.managementKey)
                    && !imported.standardError.contains(Self.managementKey))

            // The card's own record: 9C holds an imported key with PIN policy always (3).
            let state =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: rig.stateFile)))
                as? [String: Any]
            let keys = state?["keys"] as? [String: [String: Any]]
            #expect(keys?["9c"]?["pin_policy"] as? Int == 3, "\(String(describing: keys))")

            let opensc = try await Self.tokenURI(rig, module: CardRig.opensc)
            let keyURI = opensc + ";id=%02;type=private"
            let selfTest = try await Self.throughOpenSC(rig, files, ["test-sign", keyURI, "--json"])
            #expect(selfTest.status == 0, "\(selfTest.combined)")
            let report = try decodeCLIJSON(SelfTestJSON.self, from: Data(selfTest.standardOutput.utf8))
            #expect(report.ok)
            #expect(report.securityLevel == "high")
            // The second signature without the PIN was refused by the card, not merely by CertBridge.
            #expect(report.moduleLax == false, "\(report.steps)")
            #expect(report.steps.map(\.name) == ["sign", "verify", "refuse-unapproved", "sign-again"])
            #expect(report.steps.allSatisfy { $0.ok }, "\(report.steps)")

            let check = try await Self.throughOpenSC(rig, files, ["check-exportable", keyURI])
            #expect(check.status == 3, "\(check.combined)")
            #expect(check.standardOutput.contains("not exportable"), "\(check.combined)")
        }
    }

    @Test(
        "a standard-level import goes to a PIN-once slot, --exportable is reported as not honoured, and sign through OpenSC verifies with openssl"
    )
    func importStandardAndSign() async throws {
        let files = try Files()
        try await Self.withImported(files, level: "standard", extra: ["--exportable"]) { rig, imported in
            #expect(imported.standardError.contains("never lets a private key out"), "\(imported.combined)")
            #expect(imported.standardOutput.contains("extractable=no"), "\(imported.standardOutput)")
            #expect(imported.standardError.contains("slot 9A (PIV Authentication)"), "\(imported.standardError)")

            // The same backup again, even at another level, is refused: the key is on the card.
            let twice = try await Self.importOntoCard(rig, files, level: "high")
            #expect(twice.status == 1, "\(twice.combined)")
            #expect(
                twice.standardError.contains("already on") && twice.standardError.contains("slot 9A"),
                "\(twice.standardError)")

            let opensc = try await Self.tokenURI(rig, module: CardRig.opensc)
            let signature = files.dir.file("data.sig")
            let signed = try await Self.throughOpenSC(
                rig, files, ["sign", opensc + ";id=%01;type=private", "--in", files.data, "--out", signature])
            #expect(signed.status == 0, "\(signed.combined)")
            let publicKey = files.dir.file("pub.pem")
            _ = try run("openssl", ["x509", "-in", files.pfx.certificatePEM, "-pubkey", "-noout", "-out", publicKey])
            let verified = try run(
                "openssl", ["dgst", "-sha256", "-verify", publicKey, "-signature", signature, files.data])
            #expect(
                verified.status == 0 && verified.stdout.contains("Verified OK"), "\(verified.stdout)\(verified.stderr)")
        }
    }

    @Test(
        "an EC backup (P-256, P-384) imported at the High level passes test-sign through OpenSC",
        arguments: ["prime256v1", "secp384r1"])
    func importECHigh(curve: String) async throws {
        let files = try Files(ec: curve)
        try await Self.withImported(files, level: "high") { rig, _ in
            let opensc = try await Self.tokenURI(rig, module: CardRig.opensc)
            let selfTest = try await Self.throughOpenSC(
                rig, files, ["test-sign", opensc + ";id=%02;type=private", "--json"])
            #expect(selfTest.status == 0, "\(selfTest.combined)")
            let report = try decodeCLIJSON(SelfTestJSON.self, from: Data(selfTest.standardOutput.utf8))
            #expect(report.ok && report.moduleLax == false, "\(report.steps)")
        }
    }

    @Test("sign on a pulled card fails with exit 5 and says the card was removed")
    func signOnPulledCard() async throws {
        let files = try Files()
        try await Self.withImported(files, level: "standard") { rig, _ in
            let opensc = try await Self.tokenURI(rig, module: CardRig.opensc)
            try await rig.pull()
            let signed = try await Self.throughOpenSC(
                rig, files,
                ["sign", opensc + ";id=%01;type=private", "--in", files.data, "--out", files.dir.file("pulled.sig")])
            #expect(signed.status == 5, "\(signed.combined)")
            #expect(signed.standardError.contains("was the card removed?"), "\(signed.standardError)")
            #expect(!FileManager.default.fileExists(atPath: files.dir.file("pulled.sig")))
        }
    }

    @Test(
        "a card pulled while the certificate is written: the import says exactly what is left, and --replace finishes the job"
    )
    func pulledDuringImport() async throws {
        let files = try Files()
        try await CardRig.withRig { rig in
            try await rig.pullOnNextObjectWrite()
            let broken = try await Self.importOntoCard(rig, files, level: "high")
            #expect(broken.status == 5, "\(broken.combined)")
            #expect(
                broken.standardError.contains(
                    "left on the card: the private key in slot 9C (Digital Signature), without its certificate"),
                "\(broken.standardError)")
            try await rig.insert()

            // What the message said is what the card holds: the key in 9C, no certificate for it.
            let state =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: rig.stateFile)))
                as? [String: Any]
            let keys = state?["keys"] as? [String: Any]
            let objects = state?["objects"] as? [String: Any]
            #expect(keys?["9c"] != nil)
            #expect(objects?["5fc10a"] == nil, "\(String(describing: objects?.keys))")

            let again = try await Self.importOntoCard(rig, files, level: "high", extra: ["--replace"])
            #expect(again.status == 0, "\(again.combined)")
            let opensc = try await Self.tokenURI(rig, module: CardRig.opensc)
            let selfTest = try await Self.throughOpenSC(rig, files, ["test-sign", opensc + ";id=%02;type=private"])
            #expect(selfTest.status == 0, "\(selfTest.combined)")
        }
    }

    @Test("an import onto the card's OpenSC token is refused up front, pointing at ykcs11")
    func importThroughOpenSCIsRefused() async throws {
        let files = try Files()
        try await CardRig.withRig { rig in
            let result = try await Self.importPFX(
                rig, files, module: CardRig.opensc, ["--pin-source", "file:\(files.pinFile)"])
            #expect(result.status == 1, "\(result.combined)")
            #expect(
                result.standardError.contains("ykcs11") && result.standardError.contains("nothing was written"),
                "\(result.standardError)")
        }
    }

    @Test("a wrong management key is exit 4 and writes nothing")
    func wrongManagementKey() async throws {
        let files = try Files()
        try await CardRig.withRig { rig in
            let wrongKey = try files.dir.write("wrong-mgm", String(repeating: "0A", count: 24) + "\n")
            let result = try await Self.importPFX(
                rig, files, module: CardRig.ykcs11, ["--so-pin-source", "file:\(wrongKey)"])
            #expect(result.status == 4, "\(result.combined)")
            let state =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: rig.stateFile)))
                as? [String: Any]
            #expect((state?["keys"] as? [String: Any])?.isEmpty ?? true, "\(String(describing: state?["keys"]))")
        }
    }

    @Test("without pcscd, readers says pcscd is not running and exits 5")
    func readersWithoutPcscd() async throws {
        try await CardRig.withoutRig {
            for arguments in [["readers"], ["readers", "--json"], ["readers", "--watch"]] {
                let result = try await CardRig.runProcess(
                    CLI.path, arguments,
                    environment: ["PCSCLITE_CSOCK_NAME": CardRig.socketPath], input: Data())
                #expect(result.status == 5, "\(arguments): \(result.combined)")
                #expect(result.standardError.contains("pcscd is not running"), "\(arguments): \(result.standardError)")
                #expect(!result.standardError.contains("0x8010"), "a raw code: \(result.standardError)")
            }
        }
    }
}

/// A long-running child (here `readers --watch`) whose standard output is read line by line as
/// it comes, so a test can wait for a line with a deadline.
final class LineWatcher: @unchecked Sendable {
    // @unchecked: `received` is only touched under `lock`.
    private let process = Process()
    private let lock = NSLock()
    private var received: [String] = []

    init(_ executable: String, _ arguments: [String], environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let handle = output.fileHandleForReading
        Thread { [self] in
            var buffer: [UInt8] = []
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer += chunk
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[..<newline], as: UTF8.self)
                    buffer.removeSubrange(...newline)
                    lock.withLock { received.append(line) }
                }
            }
        }.start()
    }

    /// The lines so far.
    var lines: [String] { lock.withLock { received } }

    /// Waits until `count` lines satisfy `match`, up to `seconds`.
    func waitForLine(count: Int, within seconds: Double = 15, _ match: @escaping @Sendable (String) -> Bool) async
        -> Bool
    {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if lines.filter(match).count >= count { return true }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return lines.filter(match).count >= count
    }

    /// Ends the child and waits for it. SIGKILL, because Foundation starts children with most
    /// signals blocked, so a SIGINT would wait forever.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
