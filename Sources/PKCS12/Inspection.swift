/// What a PFX file holds and how it is protected, for `certbridge pfx inspect` and for import
/// warnings. Built from the file's structure, refined with what decryption revealed.
public struct Inspection: Hashable, Sendable {
    /// What a set of bags holds.
    public enum Content: String, Hashable, Sendable, CustomStringConvertible {
        case keys
        case certificates
        case keysAndCertificates = "keys and certificates"
        /// Other bag types only (CRLs, secrets).
        case other
        /// Encrypted and not (yet) decrypted.
        case unknown

        /// The content's name.
        public var description: String { rawValue }
    }

    /// How a set of bags is encrypted.
    public struct Encryption: Hashable, Sendable, CustomStringConvertible {
        /// "PBES2/AES-256-CBC/PBKDF2-HMAC-SHA256", "pbeWithSHAAnd3-KeyTripleDES-CBC",
        /// "pbeWithSHAAnd40BitRC2-CBC", or "none".
        public let algorithm: String
        /// The KDF iteration count, nil when not encrypted or not readable.
        public let iterations: Int?
        /// Whether the cipher is one this project calls weak (RC2, RC4, DES, 3DES).
        public let isWeakCipher: Bool

        /// Not encrypted.
        public static let none = Encryption(algorithm: "none", iterations: nil, isWeakCipher: false)

        /// Whether any encryption applies.
        public var isEncrypted: Bool { self != .none }

        /// The algorithm, with its iteration count where known.
        public var description: String {
            iterations.map { "\(algorithm), \($0) iterations" } ?? algorithm
        }
    }

    /// One group of bags protected the same way: an encrypted part of the file, a shrouded key
    /// bag, or the plain bags of a plain part.
    public struct BagSet: Hashable, Sendable, CustomStringConvertible {
        /// What the bags hold.
        public let content: Content
        /// How they are encrypted.
        public let encryption: Encryption
        /// `content: algorithm, N iterations`.
        public var description: String { "\(content): \(encryption)" }
    }

    /// The integrity MAC (RFC 7292 §4, `PKCS12_get0_mac`).
    public struct MAC: Hashable, Sendable, CustomStringConvertible {
        /// The digest's name as OpenSSL gives it, e.g. "SHA256" or "SHA1".
        public let digest: String
        /// Iterations of the RFC 7292 Appendix B key derivation for the MAC key.
        public let iterations: Int
        /// `digest, N iterations`.
        public var description: String { "\(digest), \(iterations) iterations" }

        /// A MAC description, for comparing with what a file holds.
        public init(digest: String, iterations: Int) {
            self.digest = digest
            self.iterations = iterations
        }
    }

    /// A weak or odd choice a person should hear about.
    public enum Warning: Hashable, Sendable, CustomStringConvertible {
        /// A cipher with a small or broken key (RC2-40, 3DES, ...), named.
        case weakCipher(String)
        /// A key-derivation or MAC iteration count below 10,000, with where it is used.
        case lowIterations(where: String, count: Int)
        /// The MAC uses SHA-1.
        case sha1MAC
        /// There is no MAC: nothing shows whether the file was altered.
        case noMAC
        /// A private key is stored without encryption.
        case unencryptedKey

        /// The warning as one sentence.
        public var description: String {
            switch self {
            case .weakCipher(let name): "weak cipher \(name)"
            case .lowIterations(let place, let count): "only \(count) iterations for the \(place)"
            case .sha1MAC: "the MAC uses SHA-1"
            case .noMAC: "no MAC: alterations to the file cannot be detected"
            case .unencryptedKey: "the private key is not encrypted"
            }
        }
    }

    /// Iteration counts below this earn a warning.
    public static let minimumIterations = 10_000

    /// Every set of bags, in file order.
    public let bagSets: [BagSet]
    /// The MAC, or nil when the file has none.
    public let mac: MAC?
    /// Weak choices, most important first.
    public let warnings: [Warning]

    /// How the (first) private key is encrypted, if the file holds one that was seen.
    public var keyEncryption: Encryption? {
        bagSets.first { $0.content == .keys || $0.content == .keysAndCertificates }?.encryption
    }

    /// How the certificates are encrypted, if they were seen.
    public var certificateEncryption: Encryption? {
        bagSets.first { $0.content == .certificates || $0.content == .keysAndCertificates }?.encryption
    }

    init(bagSets: [BagSet], mac: MAC?, keyCount: Int) {
        self.bagSets = bagSets
        self.mac = mac
        var warnings: [Warning] = []
        for set in bagSets where set.encryption.isWeakCipher {
            let warning = Warning.weakCipher(set.encryption.algorithm)
            if !warnings.contains(warning) { warnings.append(warning) }
        }
        if bagSets.contains(where: {
            !$0.encryption.isEncrypted && ($0.content == .keys || $0.content == .keysAndCertificates)
        }) {
            warnings.append(.unencryptedKey)
        }
        if let mac {
            if mac.digest == "SHA1" { warnings.append(.sha1MAC) }
            if mac.iterations < Self.minimumIterations {
                warnings.append(.lowIterations(where: "MAC", count: mac.iterations))
            }
        } else {
            warnings.append(.noMAC)
        }
        for set in bagSets {
            if let count = set.encryption.iterations, count < Self.minimumIterations {
                let warning = Warning.lowIterations(where: "\(set.content) encryption", count: count)
                if !warnings.contains(warning) { warnings.append(warning) }
            }
        }
        self.warnings = warnings
    }
}
