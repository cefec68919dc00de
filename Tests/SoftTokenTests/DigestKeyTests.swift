internal import CPKCS11
import Foundation
import TestSupport
import Testing

@testable import PKCS11

/// C_DigestKey puts a secret key's value into the digest under way, as if it were data.
@Suite("C_DigestKey on the software token")
struct DigestKeyTests {
    @Test("DigestUpdate(prefix), DigestKey(AES key), DigestFinal equals openssl dgst -sha256 of prefix‖key")
    func digestKey() throws {
        let dir = try TemporaryDirectory()
        let (_, session) = try SoftTokenRig.freshSession()
        let f = session.slot.module.functions.pointee
        let value = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let key = try session.createObject([
            Attribute(.secretKey), Attribute(.aes), Attribute(.token, false), Attribute(.value, bytes: value),
        ])
        var prefix = Array("prefix".utf8)
        var mechanism = CK_MECHANISM(mechanism: CKM_SHA256, pParameter: nil, ulParameterLen: 0)
        #expect(f.C_DigestInit!(session.handle, &mechanism) == CKR_OK)
        #expect(f.C_DigestUpdate!(session.handle, &prefix, CK_ULONG(prefix.count)) == CKR_OK)
        #expect(f.C_DigestKey!(session.handle, key.handle) == CKR_OK)
        var out = [UInt8](repeating: 0, count: 32)
        var length: CK_ULONG = 32
        #expect(f.C_DigestFinal!(session.handle, &out, &length) == CKR_OK)
        let file = dir.file("input")
        try Data(prefix + value).write(to: URL(fileURLWithPath: file))
        let reference = try run("openssl", ["dgst", "-sha256", "-hex", file])
        let hex = try #require(reference.stdout.split(separator: " ").last).trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(hexString(out) == hex)
    }

    @Test("pkcs11-tool -M lists the new mechanisms with their flags")
    func mechanismList() throws {
        let (store, label) = try PrivateStore.withToken("mech")
        let listed = try OtherProcess.pkcs11Tool(["--token-label", label, "-M"], environment: store.environment)
        #expect(listed.status == 0, "\(listed.stderr)")
        for line in [
            "RSA-PKCS-OAEP, keySize={1024,4096}, encrypt, decrypt", "AES-GCM, keySize={16,32}, encrypt, decrypt",
            "AES-CBC-PAD, keySize={16,32}, encrypt, decrypt", "SHA256-HMAC", "AES-CMAC", "GENERIC-SECRET-KEY-GEN",
        ] {
            #expect(listed.stdout.contains(line), "\(line) in \(listed.stdout)")
        }
    }
}
