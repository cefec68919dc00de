import Foundation
import PCSC
import TestSupport
import Testing

/// How fast the virtual card signs through pcscd and vpcd. A floor, not a benchmark: it catches
/// the card falling back to delayed-ACK pacing (~5 signatures/s without TCP_QUICKACK).
@Suite("Virtual card speed", .serialized)
struct CardSpeedTests {
    static func rate(_ card: Card, _ command: [UInt8], count: Int) throws -> Double {
        let start = Date()
        for _ in 0..<count {
            let response = try card.transmit(command)
            guard response.isSuccess else {
                throw CardRigError(message: "sign failed: SW \(String(response.statusWord, radix: 16))")
            }
        }
        return Double(count) / Date().timeIntervalSince(start)
    }

    @Test("RSA-2048 and P-256 signatures per second over PC/SC")
    func signaturesPerSecond() async throws {
        try await CardRig.withRig { rig in
            for (slot, algorithm) in [("9a", "RSA2048"), ("9d", "ECCP256")] {
                let made = try await rig.pivTool([
                    "-a", "generate", "-s", slot, "-A", algorithm,
                    "--pin-policy=once", "--touch-policy=never",
                ])
                #expect(made.status == 0, "\(made.combined)")
            }
            let card = try Context().connect(to: CardRig.readerName)
            #expect(try card.transmit(PIV.select).isSuccess)
            #expect(try card.transmit(PIV.verify("123456")).isSuccess)
            // A PKCS#1 v1.5 block (00 01 FF… 00 ‖ 32 bytes) is always below the modulus.
            let block =
                [0x00, 0x01] + [UInt8](repeating: 0xFF, count: 221) + [0x00]
                + [UInt8](repeating: 0x42, count: 32)
            let rsa = try Self.rate(card, PIV.sign(block, algorithm: 0x07, slot: 0x9A), count: 200)
            let ecdsa = try Self.rate(
                card,
                PIV.sign(
                    [UInt8](repeating: 0x42, count: 32),
                    algorithm: 0x11, slot: 0x9D), count: 200)
            print(
                "virtual card over PC/SC: RSA-2048 \(Int(rsa)) signatures/s, "
                    + "P-256 \(Int(ecdsa)) signatures/s")
            #expect(rsa > 50)
            #expect(ecdsa > 50)
        }
    }
}
