import Crypto
internal import PKCS11

/// The ANSI X9.63 key derivation function (SEC 1 §3.6.1) that RFC 5753 key agreement uses:
/// Hash(Z ‖ counter ‖ SharedInfo) for counter = 1, 2, … until enough bytes.
enum X963KDF {
    /// The digest the KDF runs on.
    enum Hash: String {
        case sha1 = "SHA-1"
        case sha256 = "SHA-256"
        case sha384 = "SHA-384"
        case sha512 = "SHA-512"
    }

    static func derive(secret: [UInt8], sharedInfo: [UInt8], length: Int, hash: Hash) -> [UInt8] {
        var out: [UInt8] = []
        var counter: UInt32 = 1
        while out.count < length {
            var input =
                secret + [
                    UInt8(counter >> 24), UInt8(counter >> 16 & 0xFF), UInt8(counter >> 8 & 0xFF),
                    UInt8(counter & 0xFF),
                ] + sharedInfo
            out += digest(input, hash)
            wipe(&input)
            counter += 1
        }
        let result = Array(out.prefix(length))
        wipe(&out)
        return result
    }

    private static func digest(_ input: [UInt8], _ hash: Hash) -> [UInt8] {
        switch hash {
        case .sha1: Array(Insecure.SHA1.hash(data: input))
        case .sha256: Array(SHA256.hash(data: input))
        case .sha384: Array(SHA384.hash(data: input))
        case .sha512: Array(SHA512.hash(data: input))
        }
    }
}
