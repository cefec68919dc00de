import Foundation
import PKCS11
import TestSupport
import Testing

@testable import CertStore

/// What a listing asks of each object, counted at the module boundary (the counting shim): its
/// common attributes once, in the pairing pass, and what its class and key type have once
/// more, with nothing it cannot have. SoftHSM2 checks its object file for every attribute asked,
/// and an attribute that comes back unavailable makes the reader ask again, so a third call per
/// object was a third of the listing's time there.
@Suite("listing: two reads per object")
struct ListingReadsTests {
    @Test(
        "every object of RSA and EC key pairs with certificates is read exactly twice, and the summaries are whole",
        arguments: TokenFixtures.all)
    func twoReadsPerObject(fixture: any TokenFixture) throws {
        let dir = try TemporaryDirectory()
        let test = try fixture.freshToken()
        do {
            let session = try test.userSession()
            _ = try TestKeys.install(.p256, label: "ec", id: [1], token: test, session: session, in: dir)
            _ = try TestKeys.install(.rsa2048, label: "rsa", id: [2], token: test, session: session, in: dir)
            try session.logout()
        }
        let counting = try CountingModule.make(forwardingTo: fixture.modulePath, in: dir)
        let store = try Store(modulePaths: [counting.path])
        let pin = test.userPIN
        let before = try counting.calls().count
        let (objects, skipped) = try store.objects(
            matching: PKCS11URI("pkcs11:token=\(test.label)"), pin: { _ in PIN(bytes: Array(pin.utf8)) })
        #expect(skipped.isEmpty)

        #expect(objects.count == 6, "\(objects.map(\.label))")
        let keys = objects.filter { $0.class == "private-key" }
        #expect(
            Set(keys.map { "\($0.label) \($0.keyType ?? "?") \($0.keyBits ?? 0)" }) == ["ec EC 256", "rsa RSA 2048"])
        #expect(keys.allSatisfy { $0.flags != nil && $0.usage?.contains("sign") == true && $0.pairedWith == $0.label })
        #expect(
            objects.filter { $0.class == "certificate" }.allSatisfy { $0.certificate != nil && $0.pairedWith != nil })
        #expect(objects.filter { $0.class == "public-key" }.allSatisfy { $0.keyBits != nil })

        let reads = try counting.calls().dropFirst(before).filter { $0.function == "C_GetAttributeValue" }
        // The listed objects: those first asked for the five common attributes (the software
        // token's integrity report, read after the listing, is not one of them).
        let perObject = Dictionary(grouping: reads) { $0.fields["object"] ?? "" }.filter {
            $0.value.first?.fields["count"] == "\(Store.SummaryReaders.common.count)"
        }
        #expect(perObject.count == objects.count)
        for (object, calls) in perObject {
            #expect(calls.count == 2, "object \(object): \(calls.map(\.description))")
        }
    }
}
