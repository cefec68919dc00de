internal import CPKCS11
import CSoftTokenCrypto

/// An OpenSSL key (EVP_PKEY) owned by the token; freed with the object.
final class CryptoKey: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Signing contexts set up once per padding scheme and reused (see cbst_signer). A context
    /// serves one signature at a time: a thread takes one out of the pool (or makes one), signs
    /// outside the lock, and puts it back, so sessions on several threads sign with one key at once.
    /// By scheme: a key signs with one or two, so a list searched in order costs less than
    /// hashing the scheme's strings twice a signature.
    private var idleSigners: [(scheme: SignerKey, signers: [OpaquePointer])] = []
    private let signerLock = Lock()
    /// What the key is, asked of OpenSSL once: each of these asks OpenSSL's name map, under
    /// its lock, which threads signing at once would otherwise meet on every signature.
    private let kind: Int32
    /// cbst_key_edwards: 25519, 448, or 0 for a key that is not an Edwards key.
    let edwardsKind: Int32
    /// The signature (or RSA block) size in bytes.
    let signatureSize: Int

    init?(_ pointer: OpaquePointer?) {
        guard let pointer else { return nil }
        self.pointer = pointer
        kind = cbst_key_kind(pointer)
        edwardsKind = cbst_key_edwards(pointer)
        signatureSize = cbst_signature_size(pointer)
    }
    deinit {
        for (_, signers) in idleSigners { for signer in signers { cbst_signer_free(signer) } }
        cbst_key_free(pointer)
    }

    struct SignerKey: Equatable {
        let padding: Int32
        let pssDigest: String?
        let mgf: String?
        let saltLength: Int32
    }

    /// Signs what the scheme signs raw (a DigestInfo, or a hash) into `out`; the length, or -1.
    func signRaw(_ scheme: SignatureScheme, _ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Int {
        // EdDSA hashes inside the signature: its input is the message, and there is no context to reuse.
        if isEdwards { return signEdDSA(input, into: &out) }
        let key = SignerKey(
            padding: scheme.padding, pssDigest: scheme.pssDigest, mgf: scheme.mgf, saltLength: scheme.saltLength)
        let pooled = signerLock.withLock { () -> OpaquePointer? in
            guard let index = idleSigners.firstIndex(where: { $0.scheme == key }) else { return nil }
            return idleSigners[index].signers.popLast()
        }
        guard
            let signer = pooled
                ?? cbst_signer_new(pointer, scheme.padding, scheme.pssDigest, scheme.mgf, scheme.saltLength)
        else { return -1 }
        let length = cbst_signer_sign(signer, input.baseAddress, input.count, &out, out.count)
        signerLock.withLock {
            if let index = idleSigners.firstIndex(where: { $0.scheme == key }) {
                idleSigners[index].signers.append(signer)
            } else {
                idleSigners.append((key, [signer]))
            }
        }
        return length
    }

    var isRSA: Bool { kind == 1 }
    var isEC: Bool { kind == 2 }
    var bits: Int { Int(cbst_key_bits(pointer)) }

    /// A component (see cbst_key_component), or nil when the key has none.
    func component(_ name: String) -> [UInt8]? {
        if isEdwards { return edwardsComponent(name) }
        let length = cbst_key_component(pointer, name, nil, 0)
        guard length > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        guard cbst_key_component(pointer, name, &out, out.count) == length else { return nil }
        return out
    }

    /// PKCS#8 PrivateKeyInfo DER; the caller wipes it.
    func pkcs8() throws(CKRError) -> [UInt8] {
        let length = cbst_key_to_pkcs8(pointer, nil, 0)
        guard length > 0 else { throw CKRError(CKR.functionFailed) }
        var out = [UInt8](repeating: 0, count: length)
        guard cbst_key_to_pkcs8(pointer, &out, out.count) == length else { throw CKRError(CKR.functionFailed) }
        return out
    }

    static func fromPKCS8(_ der: [UInt8]) -> CryptoKey? {
        CryptoKey(der.withUnsafeBufferPointer { cbst_key_from_pkcs8($0.baseAddress, $0.count) })
    }
}

/// The curves the token generates and accepts.
enum Curve {
    static let nids: [Int32] = [415, 715, 716]  // prime256v1, secp384r1, secp521r1

    /// The named-curve OIDs of `nids` as DER, compared before OpenSSL decodes anything: every
    /// C_SignInit asks (CKA_EC_PARAMS gives the signature size).
    private static let encodedOIDs: [(der: [UInt8], nid: Int32)] = [
        ([0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07], 415),
        ([0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22], 715),
        ([0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23], 716),
    ]

    static func nid(params: [UInt8]) -> Int32? {
        if let known = encodedOIDs.first(where: { $0.der == params }) { return known.nid }
        let nid = params.withUnsafeBufferPointer { cbst_ec_nid_from_params($0.baseAddress, $0.count) }
        return nids.contains(nid) ? nid : nil
    }

    static func params(nid: Int32) -> [UInt8] {
        let length = cbst_ec_params_for_nid(nid, nil)
        var out = [UInt8](repeating: 0, count: max(length, 0))
        _ = cbst_ec_params_for_nid(nid, &out)
        return out
    }
}

/// The KDF and AEAD that protect stored secrets.
enum Sealing {
    /// PBKDF2-HMAC-SHA256 of a PIN or password into a 32-byte key.
    static func deriveKey(_ secret: [UInt8], salt: [UInt8], iterations: UInt32) throws(CKRError) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: 32)
        guard cbst_pbkdf2_sha256(secret, secret.count, salt, salt.count, iterations, &key, 32) == 1 else {
            throw CKRError(CKR.functionFailed)
        }
        return key
    }

    /// nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16).
    static func seal(_ plain: [UInt8], key: [UInt8], aad: [UInt8]) throws(CKRError) -> [UInt8] {
        let nonce = try randomBytes(12)
        var out = [UInt8](repeating: 0, count: plain.count + 16)
        guard cbst_aes256gcm_seal(key, nonce, aad, aad.count, plain, plain.count, &out) == 1 else {
            throw CKRError(CKR.functionFailed)
        }
        return nonce + out
    }

    /// The plaintext, or nil when the key is wrong or the bytes are damaged.
    static func open(_ sealed: [UInt8], key: [UInt8], aad: [UInt8]) -> [UInt8]? {
        open(sealed[...], key: key, aad: aad)
    }

    /// The same, for sealed bytes inside a larger buffer (read in place, not copied).
    static func open(_ sealed: ArraySlice<UInt8>, key: [UInt8], aad: [UInt8]) -> [UInt8]? {
        guard sealed.count >= 12 + 16 else { return nil }
        return sealed.withUnsafeBufferPointer { all -> [UInt8]? in
            let nonce = Array(all[0..<12])
            let body = UnsafeBufferPointer(rebasing: all[12...])
            var out = [UInt8](repeating: 0, count: body.count - 16)
            guard cbst_aes256gcm_open(key, nonce, aad, aad.count, body.baseAddress, body.count, &out) == 1 else {
                return nil
            }
            return out
        }
    }
}

// Streaming digests, for DigestOperation.
func cbstDigestNew(_ name: String) -> UnsafeMutableRawPointer? { cbst_digest_new(name) }
func cbstDigestUpdate(_ context: UnsafeMutableRawPointer, _ bytes: UnsafeRawBufferPointer) -> Bool {
    cbst_digest_update(context, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count) == 1
}
func cbstDigestFinal(_ context: UnsafeMutableRawPointer, size: Int) throws(CKRError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 64)
    let n = cbst_digest_final(context, &out)
    guard n > 0 else { throw CKRError(CKR.functionFailed) }
    return Array(out[0..<n])
}
func cbstDigestFree(_ context: UnsafeMutableRawPointer) { cbst_digest_free(context) }
