internal import CPKCS11
import CSoftTokenCrypto

/// A MAC mechanism: HMAC with a SHA-2/SHA-1 digest, or AES-CMAC.
struct MacScheme {
    let mac: String
    let digest: String?
    let size: Int

    static func parse(_ mechanism: CK_MECHANISM) -> MacScheme? {
        switch mechanism.mechanism {
        case CKM.sha1HMAC: MacScheme(mac: "HMAC", digest: "SHA1", size: 20)
        case CKM.sha224HMAC: MacScheme(mac: "HMAC", digest: "SHA224", size: 28)
        case CKM.sha256HMAC: MacScheme(mac: "HMAC", digest: "SHA256", size: 32)
        case CKM.sha384HMAC: MacScheme(mac: "HMAC", digest: "SHA384", size: 48)
        case CKM.sha512HMAC: MacScheme(mac: "HMAC", digest: "SHA512", size: 64)
        case CKM.aesCMAC: MacScheme(mac: "CMAC", digest: nil, size: 16)
        default: nil
        }
    }

    /// The key types a MAC takes: HMAC generic secret and AES keys, CMAC AES keys.
    func accepts(_ keyType: CK_KEY_TYPE?) -> Bool {
        keyType == CKK.aes || (mac == "HMAC" && keyType == CKK.genericSecret)
    }
}

/// A MAC signature or verification between its Init and its end: an OpenSSL MAC context.
final class MacOperation {
    private var context: UnsafeMutableRawPointer?
    let size: Int

    init(scheme: MacScheme, key: [UInt8]) throws(CKRError) {
        let parameter = scheme.digest ?? "AES-\(key.count * 8)-CBC"
        if scheme.mac == "CMAC" && ![16, 24, 32].contains(key.count) { throw CKRError(CKR.keySizeRange) }
        guard let context = cbst_mac_new(scheme.mac, parameter, key, key.count) else {
            throw CKRError(CKR.keySizeRange)
        }
        self.context = context
        size = scheme.size
    }

    func update(_ bytes: UnsafeRawBufferPointer) throws(CKRError) {
        guard let context,
            cbst_mac_update(context, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count) == 1
        else {
            throw CKRError(CKR.functionFailed)
        }
    }

    func finish() throws(CKRError) -> [UInt8] {
        guard let context else { throw CKRError(CKR.operationNotInitialized) }
        var out = [UInt8](repeating: 0, count: 64)
        let length = cbst_mac_final(context, &out, out.count)
        cbst_mac_free(context)
        self.context = nil
        guard length == size else { throw CKRError(CKR.functionFailed) }
        return Array(out[0..<length])
    }

    deinit { if let context { cbst_mac_free(context) } }
}
