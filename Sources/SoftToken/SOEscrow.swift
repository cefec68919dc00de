import CSoftTokenCrypto

/// The SO's copy of the master key, which a user's PIN change (it makes a new master key) can
/// renew without knowing the SO PIN: the master key is sealed to the SO's P-256 public key
/// (ECDH with a fresh key pair, SHA-256 of the shared secret as the AES-256-GCM key), and the
/// SO's private key is sealed under the SO key, which only the SO PIN opens. So the SO can
/// still C_InitPIN after the user changed the PIN, and the user never holds anything that opens
/// the SO's side.
enum SOEscrow {
    private static let curve: Int32 = 415  // prime256v1

    /// A new SO key pair: its public point, and its private key (PKCS#8) sealed under `soKey`.
    static func makeKeyPair(soKey: [UInt8]) throws(CKRError) -> (publicPoint: [UInt8], sealedPrivate: [UInt8]) {
        guard let key = CryptoKey(cbst_generate_ec(curve)), let point = key.component("ec_point") else {
            throw CKRError(CKR.functionFailed)
        }
        var der = try key.pkcs8()
        defer { wipe(&der) }
        return (point, try Sealing.seal(der, key: soKey, aad: Array("certbridge so key".utf8)))
    }

    /// `master` sealed to the SO's public point: the fresh point ‖ the sealed key.
    static func seal(master: [UInt8], to publicPoint: [UInt8]) throws(CKRError) -> [UInt8] {
        guard
            let peer = CryptoKey(
                publicPoint.withUnsafeBufferPointer { cbst_ec_public(curve, $0.baseAddress, $0.count) }),
            let fresh = CryptoKey(cbst_generate_ec(curve)), let point = fresh.component("ec_point")
        else {
            throw CKRError(CKR.functionFailed)
        }
        var wrapping = try wrappingKey(fresh, peer, point)
        defer { wipe(&wrapping) }
        var out: [UInt8] = []
        out.append(u32: UInt32(point.count))
        return out + point + (try Sealing.seal(master, key: wrapping, aad: aad))
    }

    /// The master key from the SO's copy, with the SO key (what the SO PIN opens); nil when it
    /// does not open.
    static func open(_ copy: [UInt8], sealedPrivate: [UInt8], soKey: [UInt8]) -> [UInt8]? {
        guard var der = Sealing.open(sealedPrivate, key: soKey, aad: Array("certbridge so key".utf8)) else {
            return nil
        }
        defer { wipe(&der) }
        var reader = ByteReader(copy)
        guard let key = CryptoKey.fromPKCS8(der), let length = try? reader.u32(),
            let point = try? Array(reader.take(Int(length))),
            let peer = CryptoKey(point.withUnsafeBufferPointer { cbst_ec_public(curve, $0.baseAddress, $0.count) }),
            var wrapping = try? wrappingKey(key, peer, point)
        else { return nil }
        defer { wipe(&wrapping) }
        return Sealing.open(reader.rest(), key: wrapping, aad: aad)
    }

    private static let aad = Array("certbridge master key: so copy".utf8)

    /// SHA-256 of the ECDH secret and the fresh point.
    private static func wrappingKey(_ mine: CryptoKey, _ peer: CryptoKey, _ point: [UInt8]) throws(CKRError) -> [UInt8]
    {
        var secret = [UInt8](repeating: 0, count: 128)
        let length = cbst_ecdh_keys(mine.pointer, peer.pointer, &secret, secret.count)
        guard length > 0 else { throw CKRError(CKR.functionFailed) }
        var input = Array(secret[0..<length]) + point
        wipe(&secret)
        defer { wipe(&input) }
        return Token.digest(input)
    }
}
