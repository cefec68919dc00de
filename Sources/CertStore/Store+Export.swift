import FoundationEssentials
import Glibc
public import PKCS11
import PKCS12

/// The Export Wizard's choices.
public struct ExportOptions: Sendable {
    /// "Include all certificates in the certification path".
    public var includeChain = true
    /// Extra CA certificates (DER) to complete the path with, beyond those on the token.
    public var extraChain: [[UInt8]] = []
    /// `modern` ("strong protection": AES-256, PBKDF2-HMAC-SHA256, SHA-256 MAC) or `compat` (3DES, SHA-1 MAC).
    public var profile: Profile = .modern
    /// Replace the output file if it exists.
    public var overwrite = false
    /// The password of a key that has its own (a High-level key on the software token): the
    /// token lets such a key out only after a context login with it.
    public var keyPassword: KeyPasswordSource?

    /// The defaults: chain included, modern profile, no overwrite.
    public init() {}
}

/// What an export wrote.
public struct ExportResult: Sendable, Codable {
    /// The file written.
    public var file: String
    /// The key's label.
    public var label: String
    /// `modern` or `compat`.
    public var profile: String
    /// Subjects of the certificates written, leaf first.
    public var certificates: [String]
    /// True when the key had no certificate and a self-signed placeholder was written, as Windows does.
    public var placeholderCertificate: Bool
    /// Things the user should know, e.g. that compat protection is weak.
    public var warnings: [String]
}

extension Store {
    /// Backs up an exportable key with its certificate and chain as a password-protected PFX.
    /// A non-exportable key is refused before the password is asked. The file is written 0600
    /// under a temporary name, read back with the password and checked against the token's
    /// public key, and only then renamed into place: an interrupted export leaves no half file.
    public func exportBackup(
        _ uri: PKCS11URI, to path: String, options: ExportOptions, pin: PINProvider?,
        password: () throws(StoreError) -> PIN
    ) throws(StoreError) -> ExportResult {
        if !options.overwrite && FileManager.default.fileExists(atPath: path) {
            throw StoreError(.usage, "\(path) exists; choose another name or pass --force to replace it")
        }
        let key = try privateKey(uri, pin: pin)
        guard key.flags.isExportable else {
            throw StoreError(
                .notExportable,
                "the private key \"\(key.label)\" is marked non-exportable (\(key.flags.exportabilityReason)); no backup of it can be made"
            )
        }
        let publicKeyInfo = try tokenPublicKeyInfo(key)
        let leafDER = try certificate(for: key)
        let chain =
            options.includeChain && leafDER != nil
            ? try certificationPath(from: leafDER!, session: key.session, extra: options.extraChain) : []

        var pkcs8 = try extractPrivateKey(key, keyPassword: options.keyPassword)
        defer { wipe(&pkcs8) }
        let privateKey: PKCS12.PrivateKey
        do throws(PKCS12Error) { privateKey = try PKCS12.PrivateKey(pkcs8DER: pkcs8) } catch {
            throw StoreError(.failed, "the key that came off the token could not be read: \(error.reason)")
        }
        guard privateKey.matches(publicKeyInfo: publicKeyInfo) else {
            throw StoreError(.failed, "the key that came off the token does not match its public key; nothing written")
        }
        let placeholder = leafDER == nil
        let certificateDER: [UInt8]
        if let leafDER {
            certificateDER = leafDER
        } else {
            certificateDER = try placeholderCertificate(for: privateKey, label: key.label)
        }
        let secret = try password()

        let bytes: [UInt8]
        do throws(PKCS12Error) {
            let leaf = try PKCS12.Certificate(der: certificateDER)
            let chainCertificates = try chain.map { (der) throws(PKCS12Error) in try PKCS12.Certificate(der: der) }
            bytes = try withSecret(secret) { (pfxPassword) throws(PKCS12Error) in
                try PFX.make(
                    key: privateKey, certificate: leaf, chain: chainCertificates, friendlyName: key.label,
                    password: pfxPassword, profile: options.profile)
            }
        } catch {
            throw StoreError(.failed, "the PFX could not be made: \(error.reason)")
        }
        try writeVerified(bytes, to: path, password: secret, publicKeyInfo: publicKeyInfo)

        var warnings: [String] = []
        if options.profile == .compat {
            warnings.append(
                "compat protection (3DES, SHA-1 MAC) is weak; use it only for systems that cannot read the modern profile"
            )
        }
        if placeholder {
            warnings.append("the key has no certificate yet; a self-signed placeholder certificate was written with it")
        } else if options.includeChain,
            let warning = CertificationPath.incompleteWarning(
                leaf: certificateDER, chain: chain, option: "--chain-file")
        {
            warnings.append(warning)
        }
        let subjects = ([certificateDER] + chain).compactMap { try? PKCS12.Certificate(der: $0).subject }
        return ExportResult(
            file: path, label: key.label, profile: options.profile.name, certificates: subjects,
            placeholderCertificate: placeholder, warnings: warnings)
    }

    /// The SPKI of the key's public half as the token holds it (from the public key object, or
    /// the certificate, with the same CKA_ID).
    func tokenPublicKeyInfo(_ key: KeyHandle) throws(StoreError) -> [UInt8] {
        var values: AttributeValues
        do throws(PKCS11Error) {
            values = try key.object.attributes([.modulus, .publicExponent, .ecParams])
            if key.keyType == .ecEdwards,
                let publicKey = try key.session.findObjects([Attribute(.publicKey), Attribute(.id, bytes: key.id)])
                    .first
            {
                values = try publicKey.attributes([.ecParams, .ecPoint])
            }
            if values[.modulus] == nil,
                let publicKey = try key.session.findObjects([Attribute(.publicKey), Attribute(.id, bytes: key.id)])
                    .first
            {
                values = try publicKey.attributes([.modulus, .publicExponent, .ecParams, .ecPoint])
            }
        } catch {
            throw StoreError(error, doing: "reading the public key of \"\(key.label)\"", token: key.token)
        }
        let certificate = try certificate(for: key)
        do throws(PKCS12Error) {
            if let modulus = values[.modulus], let exponent = values[.publicExponent] {
                return try PublicKeyInfo.rsa(modulus: modulus, publicExponent: exponent)
            }
            if let parameters = values[.ecParams], let point = values[.ecPoint] {
                return key.keyType == .ecEdwards
                    ? try PublicKeyInfo.edwards(parameters: parameters, point: point)
                    : try PublicKeyInfo.ec(parameters: parameters, point: point)
            }
            if let certificate { return try PKCS12.Certificate(der: certificate).publicKeyInfo }
        } catch {
            throw StoreError(.failed, "the public key of \"\(key.label)\" could not be read: \(error.reason)")
        }
        throw StoreError(
            .failed, "the token holds no public key or certificate for \"\(key.label)\" to check a backup against")
    }

    /// The certificate with the key's CKA_ID, if the token has one.
    func certificate(for key: KeyHandle) throws(StoreError) -> [UInt8]? {
        guard !key.id.isEmpty else { return nil }
        do throws(PKCS11Error) {
            let found = try key.session.findObjects([Attribute(.certificate), Attribute(.id, bytes: key.id)])
            // An issued certificate wins over CertBridge's own placeholder (a restored backup
            // carries one), so a backup never holds the placeholder beside an issued certificate.
            var placeholder: [UInt8]?
            for certificate in found {
                let values = try certificate.attributes([.value, .certificateCategory])
                guard values.ulong(.certificateCategory) != CertificateCategory.authority.rawValue,
                    let der = values[.value]
                else { continue }
                if isPlaceholderCertificate(der) {
                    placeholder = placeholder ?? der
                    continue
                }
                return der
            }
            if let placeholder { return placeholder }
            return try found.first?.attributes([.value])[.value]
        } catch {
            throw StoreError(error, doing: "reading the certificate of \"\(key.label)\"", token: key.token)
        }
    }

    /// The issuers of `leaf`, leaf to root, from the token's certificates and `extra`.
    func certificationPath(from leaf: [UInt8], session: Session, extra: [[UInt8]]) throws(StoreError) -> [[UInt8]] {
        var candidates: [PKCS12.Certificate] = []
        do throws(PKCS11Error) {
            for object in try session.findObjects([Attribute(.certificate)]) {
                if let der = try object.attributes([.value])[.value],
                    let certificate = try? PKCS12.Certificate(der: der)
                {
                    candidates.append(certificate)
                }
            }
        } catch {
            throw StoreError(error, doing: "reading the token's certificates")
        }
        candidates += extra.compactMap { try? PKCS12.Certificate(der: $0) }
        guard var current = try? PKCS12.Certificate(der: leaf) else { return [] }
        var path: [[UInt8]] = []
        while !current.isSelfIssued, path.count < 10,
            let issuer = candidates.first(where: { $0.der != current.der && current.isIssued(by: $0) })
        {
            path.append(issuer.der)
            current = issuer
        }
        return path
    }

    /// Writes under a temporary name (0600), reads the file back with the password and checks
    /// its key against the token's, then renames it into place. The temporary name,
    /// `.NAME.certbridge-tmp-PID-RANDOM`, is locked while it is written, so the temporary files
    /// a killed export leaves are found, and the next export into the directory removes them.
    private func writeVerified(_ bytes: [UInt8], to path: String, password: borrowing PIN, publicKeyInfo: [UInt8])
        throws(StoreError)
    {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        removeStaleExportFiles(in: directory)
        let temporary =
            (directory == "/" ? "" : directory)
            + "/.\(name)\(exportTemporaryMark)\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try writeNewFile(bytes, to: temporary, locked: true)
        defer { close(fd) }
        testPauseExport()
        do throws(StoreError) {
            let written = [UInt8](FileManager.default.contents(atPath: temporary) ?? Data())
            let reopened = try Store.openBackup(written, password: password, file: path)
            guard reopened.privateKey.matches(publicKeyInfo: publicKeyInfo) else {
                throw StoreError(.failed, "the written backup does not hold the token's key; nothing kept")
            }
            guard rename(temporary, path) == 0 else {
                throw StoreError(
                    .failed, "cannot move the backup into place at \(path): \(String(cString: strerror(errno)))")
            }
            syncDirectory(directory.isEmpty ? "." : directory)
        } catch {
            unlink(temporary)
            throw error
        }
    }
}

/// Creates `path` with mode 0600 (never following a link or reusing a file), writes and fsyncs.
public func writeFile(_ bytes: [UInt8], to path: String) throws(StoreError) {
    close(try writeNewFile(bytes, to: path, locked: false))
}

/// `writeFile`, returning the descriptor still open (and flocked, when `locked`).
private func writeNewFile(_ bytes: [UInt8], to path: String, locked: Bool) throws(StoreError) -> Int32 {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard fd >= 0 else { throw StoreError(.failed, "cannot create \(path): \(String(cString: strerror(errno)))") }
    if locked { _ = flock(fd, LOCK_EX) }
    var success = false
    defer { if !success { close(fd) } }
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        guard n > 0 else {
            unlink(path)
            throw StoreError(.failed, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        offset += n
    }
    guard fsync(fd) == 0 else {
        unlink(path)
        throw StoreError(.failed, "cannot flush \(path) to disk: \(String(cString: strerror(errno)))")
    }
    success = true
    return fd
}

/// What an export's temporary file has in its name: `.NAME.certbridge-tmp-PID-RANDOM`.
let exportTemporaryMark = ".certbridge-tmp-"

/// Removes the temporary files killed exports left in `directory`: the user's own regular files
/// named `.NAME.certbridge-tmp-PID-RANDOM` (or `.NAME.certbridge-PID-RANDOM`, as exports named
/// them before) that no export is writing: nobody holds their lock, and their process is gone
/// (or, should its pid have been reused, the file is over an hour old).
func removeStaleExportFiles(in directory: String) {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
    for name in names where name.hasPrefix(".") {
        guard let pid = exportTemporaryPID(name) else { continue }
        let path = directory + "/" + name
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { continue }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(),
            flock(fd, LOCK_EX | LOCK_NB) == 0
        else { continue }
        let alive = pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM)
        if pid == getpid() || (alive && time(nil) - info.st_mtim.tv_sec < 3600) { continue }
        unlink(path)
    }
}

/// The pid in an export's temporary file name, or nil for any other name.
func exportTemporaryPID(_ name: String) -> pid_t? {
    for mark in [exportTemporaryMark, ".certbridge-"] {
        guard let range = name.ranges(of: mark).last,
            range.lowerBound > name.index(after: name.startIndex)
        else { continue }
        let parts = name[range.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let pid = pid_t(parts[0]), pid > 0, UInt32(parts[1]) != nil else { continue }
        return pid
    }
    return nil
}

func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
        fsync(fd)
        close(fd)
    }
}

/// Lends a PIN to PKCS12 as its own wiped Secret type.
func withSecret<R>(_ pin: borrowing PIN, _ body: (borrowing PKCS12.Secret) throws(PKCS12Error) -> R) throws(PKCS12Error)
    -> R
{
    let result: Result<R, PKCS12Error> = pin.withUnsafeBytes { bytes in
        let secret = PKCS12.Secret(copying: bytes)
        do throws(PKCS12Error) { return .success(try body(secret)) } catch { return .failure(error) }
    }
    return try result.get()
}

/// What `export --cert-only` wrote.
public struct CertificateExport: Sendable, Codable {
    /// The file written.
    public var file: String
    /// The certificate's subject.
    public var subject: String
    /// `pem` or `der`.
    public var format: String
}

extension Store {
    /// Writes a certificate alone (no key): the one the URI names, or the certificate of the key
    /// it names.
    public func exportCertificate(_ uri: PKCS11URI, to path: String, pem: Bool, overwrite: Bool, pin: PINProvider?)
        throws(StoreError) -> CertificateExport
    {
        if !overwrite && FileManager.default.fileExists(atPath: path) {
            throw StoreError(.usage, "\(path) exists; choose another name or pass --force to replace it")
        }
        var certificateURI = uri
        certificateURI.type = .certificate
        var found: [[UInt8]] = []
        for token in tokens(matching: uri) where token.info.flags.contains(.tokenInitialized) {
            let session = try session(on: token, pin: pin)
            do throws(PKCS11Error) {
                for object in try session.findObjects(certificateURI.objectTemplate) {
                    if let der = try object.attributes([.value])[.value] { found.append(der) }
                }
            } catch {
                throw StoreError(error, doing: "reading certificates on \"\(token.info.label)\"", token: token)
            }
        }
        guard found.count == 1, let certificate = try? PKCS12.Certificate(der: found[0]) else {
            throw found.isEmpty
                ? StoreError(.notFound, "no certificate matches \(certificateURI)")
                : StoreError(
                    .usage, "\(found.count) certificates match \(certificateURI); name one with object= or id=")
        }
        let bytes: [UInt8] =
            pem
            ? Array(
                ("-----BEGIN CERTIFICATE-----\n"
                    + Data(certificate.der).base64EncodedString(options: [
                        .lineLength64Characters, .endLineWithLineFeed,
                    ])
                    + "\n-----END CERTIFICATE-----\n").utf8)
            : certificate.der
        if overwrite { unlink(path) }
        try writeFile(bytes, to: path)
        return CertificateExport(file: path, subject: certificate.subject, format: pem ? "PEM" : "DER")
    }
}
