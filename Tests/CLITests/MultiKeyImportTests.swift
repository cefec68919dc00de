import Foundation
import TestSupport
import Testing

/// A PKCS#12 keystore with two key entries, made by the real `keytool` (OpenJDK 17): both keys
/// land, each with its certificate, in one all-or-nothing import; `--friendly-name` picks one.
@Suite("several keys in one PFX through the CLI")
struct MultiKeyImportTests {
    /// A keystore with an EC entry "one" and an RSA entry "two", each with a self-signed certificate.
    func keystore(in dir: TemporaryDirectory) throws -> (path: String, password: String) {
        let path = dir.file("two-entries.p12")
        for (alias, key) in [
            ("one", ["-keyalg", "EC", "-groupname", "secp256r1"]), ("two", ["-keyalg", "RSA", "-keysize", "2048"]),
        ] {
            let made = try run(
                "keytool",
                [
                    "-genkeypair", "-alias", alias, "-dname", "CN=Entry \(alias)", "-validity", "30", "-storetype",
                    "PKCS12",
                    "-keystore", path, "-storepass", "changeit", "-keypass", "changeit", "-noprompt",
                ] + key)
            try #require(made.status == 0, "keytool: \(made.stderr)")
        }
        return (path, try dir.write("ks-pass", "changeit\n"))
    }

    @Test("both keys of a keytool keystore land, each with its own certificate; pfx inspect lists both entries")
    func bothKeysLand() throws {
        let cli = try TokenCLI.softHSM()
        let store = try keystore(in: cli.dir)
        struct Inspected: Decodable {
            struct Key: Decodable {
                let friendlyName: String?
                let subject: String
            }
            let keys: [Key]
        }
        let inspected = try CLI.json(
            Inspected.self, ["pfx", "inspect", store.path, "--password-source", "file:\(store.password)"])
        #expect(inspected.keys.map(\.friendlyName) == ["one", "two"])
        #expect(inspected.keys.map(\.subject) == ["CN=Entry one", "CN=Entry two"])

        let imported = try cli.run(
            ["import", store.path, "--token", cli.tokenURI, "--password-source", "file:\(store.password)"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("Imported 2 key entries"), "\(imported.stdout)")
        let found = try cli.objects()
        let keys = found.filter { $0.class == "private-key" }
        #expect(keys.map(\.label).sorted() == ["one", "two"])
        for key in keys {
            let certificate = found.first { $0.class == "certificate" && $0.id == key.id }
            #expect(certificate?.label == key.label, "\(key.label) has its own certificate, under its id")
        }
        #expect(Set(keys.map(\.id)).count == 2)
    }

    @Test(
        "when the second entry fails (its key is on the token already), the first is removed again: the token is as it was"
    )
    func secondFailureLeavesTokenAsItWas() throws {
        let cli = try TokenCLI.softHSM()
        let store = try keystore(in: cli.dir)
        let base = ["--token", cli.tokenURI, "--password-source", "file:\(store.password)"]
        let onlyTwo = try cli.run(["import", store.path, "--friendly-name", "two"] + base)
        #expect(onlyTwo.status == 0, "\(onlyTwo.stderr)")
        #expect(
            try cli.objects().filter { $0.class == "private-key" }.map(\.label) == ["two"],
            "--friendly-name places one entry")
        let before = try cli.test.snapshot()

        let whole = try cli.run(["import", store.path] + base)
        #expect(whole.status == 1, "\(whole.stderr)")
        #expect(whole.stderr.contains("key entry 2 of 2 \"two\""), "\(whole.stderr)")
        #expect(whole.stderr.contains("already on"), "\(whole.stderr)")
        #expect(whole.stderr.contains("placed before it were removed again"), "\(whole.stderr)")
        #expect(try cli.test.snapshot() == before, "entry one, placed first, is gone again")

        let unknown = try cli.run(["import", store.path, "--friendly-name", "three"] + base)
        #expect(unknown.status == 5 && unknown.stderr.contains("\"one\", \"two\""), "\(unknown.stderr)")
        let labelled = try cli.run(["import", store.path, "--label", "x"] + base)
        #expect(labelled.status == 2 && labelled.stderr.contains("--friendly-name"), "\(labelled.stderr)")
        #expect(try cli.test.snapshot() == before)
    }
}
