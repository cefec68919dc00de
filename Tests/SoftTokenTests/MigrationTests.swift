import Foundation
import PKCS11
import TestSupport
import Testing

/// Token directories written before this version of the store.
@Suite("software token: directories made by earlier versions")
struct MigrationTests {
    /// A token directory written by the store before object generations (object files `CBO1`):
    /// label big50k, user PIN 1234, one public and one private data object.
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures/legacy-token"
    ).path

    @Test(
        "a token directory made by the earlier store opens with all its objects, public and private, and takes new ones"
    )
    func legacyDirectoryOpens() throws {
        let store = try PrivateStore()
        try FileManager.default.createDirectory(
            atPath: store.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: store.path + "/6ea0d28ec309962a")
        let listed = try OtherProcess.listedObjects(token: "big50k", pin: "1234", environment: store.environment)
        #expect(listed["o0"] == "value of o0", "\(listed)")
        let privateOnes = listed.filter { $0.key.hasPrefix("p") }
        #expect(
            privateOnes.count == 1 && privateOnes.first.map { $0.value == "value of \($0.key)" } == true, "\(listed)")

        // The first login wrote the catalog: later opens read it instead of every file.
        #expect(FileManager.default.fileExists(atPath: store.path + "/6ea0d28ec309962a/index"))
        let searched = try OtherProcess.runDriver(
            ["timings", "o", "1"], token: "big50k", pin: "1234", environment: store.environment)
        #expect(searched.stdout.contains("first_found=1 "), "\(searched.stdout) \(searched.stderr)")
        let written = try OtherProcess.runDriver(
            ["write", "new", "2", "private"], token: "big50k", pin: "1234", environment: store.environment)
        #expect(written.status == 0, "\(written.stderr)")
        let again = try OtherProcess.listedObjects(token: "big50k", pin: "1234", environment: store.environment)
        #expect(again.count == 4 && again["new1"] == "value of new1" && again["o0"] == "value of o0", "\(again)")
    }
}
