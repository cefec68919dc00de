import FoundationEssentials
public import PKCS11
import PKCS12

/// What `pfx inspect` and `import` say about a backup file: its contents and its protection.
public struct BackupDescription: Sendable, Codable {
    /// One certificate of a backup, with its place in the path.
    public struct CertificateEntry: Sendable, Codable {
        /// `leaf`, `chain` (in path order, leaf to root) or `other`.
        public var role: String
        /// The subject DN.
        public var subject: String
        /// The issuer DN.
        public var issuer: String
        /// The serial number in hex.
        public var serial: String
        /// Start of validity.
        public var notBefore: Date
        /// End of validity.
        public var notAfter: Date
        /// Whether basicConstraints says CA.
        public var isCA: Bool
    }

    /// The private key's type, e.g. `RSA` or `EC P-256`.
    public var keyType: String
    /// The private key's size in bits.
    public var keyBits: Int
    /// The friendlyName of the key (or else the leaf).
    public var friendlyName: String?
    /// The localKeyID, hex.
    public var localKeyID: String?
    /// Leaf, then the chain in path order, then any others.
    public var certificates: [CertificateEntry]
    /// Each part of the file and its encryption, e.g. "keys: PBES2/AES-256-CBC/PBKDF2-HMAC-SHA256, 2048 iterations".
    public var protection: [String]
    /// The MAC digest and iteration count; nil when the file has no MAC.
    public var mac: String?
    /// Weak protection, one sentence each.
    public var warnings: [String]
    /// Every key entry of the file (the first is the one described above), with its certificate.
    public var keys: [KeyEntry]
    /// Private keys in the file that no certificate in it belongs to.
    public var keysWithoutCertificate: Int

    /// One key entry of a backup: a private key and the certificate that belongs to it.
    public struct KeyEntry: Sendable, Codable {
        /// The private key's type, e.g. `RSA` or `EC P-256`.
        public var keyType: String
        /// The private key's size in bits.
        public var keyBits: Int
        /// The entry's friendlyName (a keytool alias).
        public var friendlyName: String?
        /// The localKeyID, hex.
        public var localKeyID: String?
        /// The subject DN of the entry's certificate.
        public var subject: String
        /// How many chain certificates the entry's path has in the file.
        public var chainLength: Int
    }

    /// The description of an opened backup.
    public init(_ backup: Backup) {
        keyType = backup.privateKey.type.description
        keyBits = backup.privateKey.bits
        friendlyName = backup.friendlyName
        localKeyID = backup.localKeyID.map(hex)
        func entry(_ certificate: PKCS12.Certificate, _ role: String) -> CertificateEntry {
            CertificateEntry(
                role: role, subject: certificate.subject, issuer: certificate.issuer, serial: certificate.serialNumber,
                notBefore: certificate.notBefore, notAfter: certificate.notAfter, isCA: certificate.isCA)
        }
        certificates =
            [entry(backup.certificate, "leaf")] + backup.chain.map { entry($0, "chain") }
            + backup.otherCertificates.map { entry($0, "other") }
        protection = backup.inspection.bagSets.map(\.description)
        mac = backup.inspection.mac?.description
        warnings = backup.inspection.warnings.map(\.description)
        keys = backup.entries.map { entry in
            KeyEntry(
                keyType: entry.privateKey.type.description, keyBits: entry.privateKey.bits,
                friendlyName: entry.friendlyName,
                localKeyID: entry.localKeyID.map(hex), subject: entry.certificate.subject,
                chainLength: entry.chain.count)
        }
        keysWithoutCertificate = backup.keysWithoutCertificate
        // The other entries' certificates are listed with their entries, not as strays.
        for other in backup.otherEntries {
            certificates.append(
                entry(other.certificate, "leaf of entry \"\(other.friendlyName ?? other.certificate.subject)\""))
            for issuer in other.chain
            where !certificates.contains(where: { $0.subject == issuer.subject && $0.serial == issuer.serialNumber }) {
                certificates.append(entry(issuer, "chain"))
            }
        }
    }
}

extension Store {
    /// The default cap on a PFX's iteration counts (`PFXLimits.defaultMaxIterations`).
    public static let defaultMaxIterations = PFXLimits.defaultMaxIterations
    /// An opened PFX backup, as `openBackup` returns it (the CLI names it without PKCS12).
    public typealias OpenedBackup = Backup
    /// The largest PFX file read (16 MiB, `PFXLimits.maxFileSize`).
    public static let maxBackupFileSize = PFXLimits.maxFileSize

    /// Opens a PFX backup with its password. Every problem — wrong password, damage,
    /// an algorithm we cannot read — is found here, before anything is written anywhere.
    /// A file asking for more than `maxIterations` in its MAC or any key derivation is refused
    /// before any derivation (see `PFXLimits`).
    public static func openBackup(
        _ bytes: [UInt8], password: borrowing PIN, file: String,
        maxIterations: Int64 = Store.defaultMaxIterations
    ) throws(StoreError) -> Backup {
        do throws(PKCS12Error) {
            let limits = PFXLimits(maxIterations: maxIterations)
            return try withSecret(password) { (secret) throws(PKCS12Error) in
                try PFX.open(bytes, password: secret, limits: limits)
            }
        } catch {
            throw StoreError(error, file: file)
        }
    }

    /// Places a backup's key, certificate and (unless `options.includeChain` is off) chain on a
    /// token; see `importItem`. A PIV card (through ykcs11) takes it with its management key
    /// from `securityOfficerPIN`; see `importOntoPIVCard`.
    public func importBackup(
        _ backup: Backup, to token: Token, options: ImportOptions, pin: PINProvider?,
        securityOfficerPIN: PINProvider? = nil
    ) throws(StoreError) -> ImportResult {
        try importBackupItem(
            ImportItem(backup), to: token, options: options, pin: pin, securityOfficerPIN: securityOfficerPIN)
    }

    /// `importBackup` for a backup's key entry already made an item.
    func importBackupItem(
        _ item: ImportItem, to token: Token, options: ImportOptions, pin: PINProvider?,
        securityOfficerPIN: PINProvider?
    ) throws(StoreError) -> ImportResult {
        if PIVSlot.isPIVModule(token) {
            return try importOntoPIVCard(item, to: token, options: options, securityOfficerPIN: securityOfficerPIN)
        }
        if PIVSlot.isReadOnlyPIVView(token) {
            throw StoreError(
                .failed,
                "\"\(token.info.label)\" is a PIV card seen through OpenSC, which cannot write keys to it; import through Yubico's ykcs11 instead (--module /usr/lib/x86_64-linux-gnu/libykcs11.so, see `certbridge readers` for its token URI); nothing was written"
            )
        }
        return try importItem(item, to: token, options: options, pin: pin)
    }

    /// The token an import or key generation goes to: the one `uri` names, else the only
    /// initialized, writable token present. It is never chosen silently: with several present
    /// this is a usage error that lists each one's URI.
    public func targetToken(_ uri: PKCS11URI?) throws(StoreError) -> Token {
        if let uri { return try token(matching: uri) }
        let writable = tokens().filter {
            $0.info.flags.contains(.tokenInitialized) && !$0.info.flags.contains(.writeProtected)
        }
        if writable.count == 1 { return writable[0] }
        if writable.isEmpty {
            throw StoreError(
                .notFound,
                "no token to write to is present"
                    + (softTokenEmptySlot == nil ? "" : "; make the software token with 'certbridge softtoken init'"))
        }
        let candidates = writable.map { "  --token '\($0.uri.tokenPart)'" }.joined(separator: "\n")
        throw StoreError(
            .usage,
            "\(writable.count) tokens are present; choose one with --token (nothing was written):\n" + candidates)
    }
}

extension ImportItem {
    /// The backup's key as PKCS#11 components, its certificate and its chain.
    public init(_ backup: Backup) {
        let key: KeyMaterial = backup.privateKey.withPrivateComponents { components in
            switch (backup.privateKey.publicKey, components) {
            case (.rsa(let modulus, let exponent), .rsa(let d, let p, let q, let dp, let dq, let qi)):
                return KeyMaterial(
                    rsaModulus: modulus, publicExponent: exponent, privateExponent: Array(d),
                    prime1: Array(p), prime2: Array(q), exponent1: Array(dp), exponent2: Array(dq),
                    coefficient: Array(qi))
            case (.ec(let parameters, let point), .ec(let value)):
                return KeyMaterial(ecParameters: parameters, value: Array(value), point: point)
            case (.edwards(let parameters, let point), .edwards(let value)):
                return KeyMaterial(edwardsParameters: parameters, value: Array(value), point: point)
            default:
                preconditionFailure("PKCS12.PrivateKey gave components of another key type than its public key")
            }
        }
        self.init(
            key: key, certificate: backup.certificate.der, chain: backup.chain.map(\.der),
            friendlyName: backup.friendlyName)
    }
}

extension StoreError {
    /// Maps a PFX failure to the documented outcome.
    init(_ error: PKCS12Error, file: String) {
        switch error.code {
        case .wrongPassword:
            self.init(.wrongSecret, "\(file): wrong password, or the file is damaged")
        case .corrupt:
            self.init(.failed, "\(file) is damaged or not a PFX backup (\(error.reason))")
        case .unsupportedAlgorithm:
            self.init(.failed, "\(file) uses an algorithm CertBridge cannot place on a token: \(error.reason)")
        case .limitExceeded:
            self.init(.failed, "\(file) is refused: \(error.reason)")
        case .noPrivateKey:
            self.init(.failed, "\(file) holds no private key; import the certificates with install-cert")
        default:
            self.init(.failed, "\(file): \(error.reason)")
        }
    }
}
