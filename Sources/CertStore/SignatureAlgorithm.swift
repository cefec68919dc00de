import Crypto
import FoundationEssentials
internal import PKCS11

/// A digest for signing.
public enum DigestAlgorithm: String, Sendable, Hashable, CaseIterable, Codable {
    case sha256, sha384, sha512

    /// The digest's length in bytes; RSA-PSS uses it as its salt length.
    public var length: Int {
        switch self {
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        }
    }

    /// Hashes in software, for tokens that only offer the raw mechanism.
    public func hash(_ data: some DataProtocol) -> [UInt8] {
        switch self {
        case .sha256: Array(SHA256.hash(data: data))
        case .sha384: Array(SHA384.hash(data: data))
        case .sha512: Array(SHA512.hash(data: data))
        }
    }

    var mechanism: MechanismType {
        switch self {
        case .sha256: .sha256
        case .sha384: .sha384
        case .sha512: .sha512
        }
    }

    var mgf1: MaskGeneration {
        switch self {
        case .sha256: .mgf1SHA256
        case .sha384: .mgf1SHA384
        case .sha512: .mgf1SHA512
        }
    }

    /// The DER DigestInfo header (RFC 8017 §9.2 note 1) that CKM_RSA_PKCS needs in front of a
    /// digest computed in software.
    var digestInfoPrefix: [UInt8] {
        switch self {
        case .sha256:
            [
                0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
                0x04, 0x20,
            ]
        case .sha384:
            [
                0x30, 0x41, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00,
                0x04, 0x30,
            ]
        case .sha512:
            [
                0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00,
                0x04, 0x40,
            ]
        }
    }
}

/// A signature scheme as users name it on the command line: `rsa-pkcs-sha256`,
/// `rsa-pss-sha384`, `ecdsa-sha512`, `eddsa`.
public enum SignatureAlgorithm: Sendable, Hashable {
    /// RSASSA-PKCS1-v1_5.
    case rsaPKCS1(DigestAlgorithm)
    /// RSASSA-PSS with MGF1 over the same digest and a salt as long as the digest.
    case rsaPSS(DigestAlgorithm)
    /// ECDSA; the token returns r‖s, which CertBridge writes as DER unless asked for raw.
    case ecdsa(DigestAlgorithm)
    /// Pure EdDSA (Ed25519/Ed448) over the whole message.
    case eddsa

    /// Every algorithm, in the order `--help` lists them.
    public static let all: [SignatureAlgorithm] =
        DigestAlgorithm.allCases.map(rsaPKCS1) + DigestAlgorithm.allCases.map(rsaPSS)
        + DigestAlgorithm.allCases.map(ecdsa) + [.eddsa]

    /// Parses a name such as `rsa-pss-sha384`.
    public init(name: String) throws(StoreError) {
        guard let found = Self.all.first(where: { $0.name == name.lowercased() }) else {
            throw StoreError(
                .usage, "unknown mechanism \"\(name)\"; use one of \(Self.all.map(\.name).joined(separator: ", "))")
        }
        self = found
    }

    /// The command-line name.
    public var name: String {
        switch self {
        case .rsaPKCS1(let digest): "rsa-pkcs-\(digest.rawValue)"
        case .rsaPSS(let digest): "rsa-pss-\(digest.rawValue)"
        case .ecdsa(let digest): "ecdsa-\(digest.rawValue)"
        case .eddsa: "eddsa"
        }
    }

    /// The digest, for all but EdDSA (which hashes inside the algorithm).
    public var digest: DigestAlgorithm? {
        switch self {
        case .rsaPKCS1(let digest), .rsaPSS(let digest), .ecdsa(let digest): digest
        case .eddsa: nil
        }
    }

    /// Whether keys of this kind can make this signature.
    public func fits(_ kind: KeyKind) -> Bool {
        switch (self, kind) {
        case (.rsaPKCS1, .rsa), (.rsaPSS, .rsa), (.ecdsa, .ec), (.eddsa, .edwards): true
        default: false
        }
    }

    /// What to hand the token: the combined mechanism when the token has it (it hashes the
    /// message itself), else the raw mechanism over a digest made here.
    func plan(offered: Set<MechanismType>, token: Token? = nil) throws(StoreError) -> SigningPlan {
        func missing(_ mechanisms: [MechanismType]) -> StoreError {
            if let token { return .missingMechanism(mechanisms, for: "making \(name) signatures", token: token) }
            return StoreError(
                .failed,
                "the token offers neither \(mechanisms.map(\.name).joined(separator: " nor ")), so it cannot make \(name) signatures"
            )
        }
        func pick(_ combined: MechanismType, _ raw: MechanismType) throws(StoreError) -> (MechanismType, Bool) {
            if offered.contains(combined) { return (combined, false) }
            if offered.contains(raw) { return (raw, true) }
            throw missing([combined, raw])
        }
        switch self {
        case .rsaPKCS1(let digest):
            let combined: MechanismType =
                digest == .sha256 ? .sha256RSAPKCS : digest == .sha384 ? .sha384RSAPKCS : .sha512RSAPKCS
            let (type, prehash) = try pick(combined, .rsaPKCS)
            return SigningPlan(mechanism: Mechanism(type), prehash: prehash ? digest : nil, digestInfo: prehash)
        case .rsaPSS(let digest):
            let combined: MechanismType =
                digest == .sha256 ? .sha256RSAPKCSPSS : digest == .sha384 ? .sha384RSAPKCSPSS : .sha512RSAPKCSPSS
            let (type, prehash) = try pick(combined, .rsaPKCSPSS)
            return SigningPlan(
                mechanism: .pss(type, hash: digest.mechanism, mgf: digest.mgf1, saltLength: UInt(digest.length)),
                prehash: prehash ? digest : nil, digestInfo: false)
        case .ecdsa(let digest):
            let combined: MechanismType =
                digest == .sha256 ? .ecdsaSHA256 : digest == .sha384 ? .ecdsaSHA384 : .ecdsaSHA512
            let (type, prehash) = try pick(combined, .ecdsa)
            return SigningPlan(mechanism: Mechanism(type), prehash: prehash ? digest : nil, digestInfo: false)
        case .eddsa:
            guard offered.contains(.eddsa) else {
                if let token { throw .missingMechanism([.eddsa], for: "making \(name) signatures", token: token) }
                throw StoreError(.failed, "the token does not offer CKM_EDDSA")
            }
            return SigningPlan(mechanism: Mechanism(.eddsa), prehash: nil, digestInfo: false)
        }
    }
}

/// How one algorithm is carried out on one token.
struct SigningPlan {
    let mechanism: Mechanism
    /// Hash in software first (the token lacks the combined mechanism).
    let prehash: DigestAlgorithm?
    /// Put the DigestInfo header in front of the digest (CKM_RSA_PKCS).
    let digestInfo: Bool

    /// The bytes C_Sign gets for `message`.
    func input(for message: [UInt8]) -> [UInt8] {
        guard let prehash else { return message }
        let digest = prehash.hash(message)
        return digestInfo ? prehash.digestInfoPrefix + digest : digest
    }
}

/// How an ECDSA signature is written: DER `SEQUENCE { r, s }` (what OpenSSL and X.509 use) or
/// the token's raw r‖s.
public enum SignatureFormat: String, Sendable, Hashable, CaseIterable, Codable {
    case der, raw
}
