import Foundation
import PKCS11
import TestSupport
import Testing

/// `certbridge objects`: the table (one line per object), the blocks of --long, and the JSON
/// array, printed as the objects are read.
@Suite("objects: table, blocks and streamed JSON")
struct ObjectListingTests {
    @Test(
        "--table: a header and one line per object with label, class, key type, security level, verdict and id",
        arguments: TokenFixtures.all)
    func table(fixture: any TokenFixture) throws {
        let rig = try FixtureRig.holding(fixture, [(.rsa2048, false, "alice", [0xA1]), (.p256, true, "bob", [0xB0])])
        let result = try rig.certbridge(["objects", rig.tokenURI, "--table"] + rig.pin)
        try #require(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map {
            $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }
        #expect(lines.first == ["LABEL", "CLASS", "TYPE", "SECURITY", "VERDICT", "ID"])
        #expect(lines.count == 7, "\(result.stdout)")  // a private key, public key and certificate each
        #expect(
            lines.contains(["alice", "private-key", "RSA", "2048", "standard", "non-exportable", "a1"]),
            "\(result.stdout)")
        #expect(
            lines.contains(["bob", "private-key", "EC", "P-256", "high", "non-exportable", "b0"]), "\(result.stdout)")
        #expect(lines.contains(["alice", "certificate", "-", "-", "-", "a1"]), "\(result.stdout)")
        #expect(lines.contains(["bob", "public-key", "EC", "P-256", "-", "-", "b0"]), "\(result.stdout)")
    }

    @Test("piped, the default is the blocks of --long (scripts that read them keep working)")
    func pipedIsLong() throws {
        let rig = try FixtureRig.holding(SoftHSMFixture(), [(.rsa2048, false, "alice", [1])])
        let plain = try rig.certbridge(["objects", rig.tokenURI] + rig.pin)
        let long = try rig.certbridge(["objects", rig.tokenURI, "--long"] + rig.pin)
        #expect(plain.status == 0 && long.status == 0)
        #expect(plain.stdout == long.stdout)
        let rows = plain.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(
            rows.contains(["verdict:", "non-exportable", "—", "CKA_EXTRACTABLE=false"])
                || rows.contains { $0.prefix(2) == ["verdict:", "non-exportable"] }, "\(plain.stdout)")
        #expect(rows.contains(["certificate:", "alice"]), "\(plain.stdout)")
        let both = try rig.certbridge(["objects", "--long", "--table"] + rig.pin)
        #expect(both.status == 2)
    }

    @Test(
        "--json is one array with every field; a listing of one class still names each key's certificate",
        arguments: TokenFixtures.all)
    func json(fixture: any TokenFixture) throws {
        let rig = try FixtureRig.holding(fixture, [(.rsa2048, false, "alice", [1]), (.p384, false, "carol", [3])])
        let all = try rig.certbridge(["objects", rig.tokenURI, "--json"] + rig.pin)
        try #require(all.status == 0, "\(all.stderr)")
        let objects = try #require(try JSONSerialization.jsonObject(with: all.stdoutData) as? [[String: Any]])
        #expect(objects.count == 6)
        let key = try #require(
            objects.first { $0["class"] as? String == "private-key" && $0["label"] as? String == "carol" })
        #expect(key["pairedWith"] as? String == "carol")
        #expect(key["curve"] as? String == "P-384" && key["keyBits"] as? Int == 384)
        #expect((key["flags"] as? [String: Any])?["sensitive"] as? Bool == true)
        #expect(key["uri"] as? String != nil && key["verdict"] as? String == "non-exportable")
        let certificate = try #require(
            objects.first { $0["class"] as? String == "certificate" && $0["label"] as? String == "alice" })
        #expect(certificate["pairedWith"] as? String == "alice")
        #expect((certificate["certificate"] as? [String: Any])?["subject"] as? String == "CN=alice")

        let keys = try rig.certbridge(["objects", rig.tokenURI + ";type=private", "--json"] + rig.pin)
        let listed = try #require(try JSONSerialization.jsonObject(with: keys.stdoutData) as? [[String: Any]])
        #expect(listed.count == 2)
        #expect(Set(listed.compactMap { $0["pairedWith"] as? String }) == ["alice", "carol"])

        let none = try rig.certbridge(["objects", rig.tokenURI + ";object=nobody", "--json"] + rig.pin)
        #expect(none.status == 0)
        #expect((try JSONSerialization.jsonObject(with: none.stdoutData) as? [Any])?.isEmpty == true, "\(none.stdout)")
    }
}
