internal import COpenSSL

/// Reading and writing PFX (PKCS#12, RFC 7292) backups, as Windows and OpenSSL write them.
public enum PFX {
    /// Opens a PFX: checks the password, decrypts every part, finds the key, its certificate
    /// and the chain. Every problem is found before anything is returned.
    ///
    /// Wraps `d2i_PKCS12`, `PKCS12_verify_mac`, `PKCS12_unpack_p7encdata` and
    /// `PKCS12_decrypt_skey`. An empty `password` is tried as "" and as no password (NULL).
    ///
    /// Wrong password or damage: when the MAC (or, without one, decryption) fails under every
    /// candidate, the file is judged `corrupt` if some encrypted part or key still decrypts with
    /// the password (so the password is right and the file was altered), else `wrongPassword`
    /// ("wrong password, or the file is damaged"). A file whose structure does not parse is
    /// always `corrupt`, whatever the password.
    ///
    /// Before OpenSSL sees the bytes, `PFXPreflight` refuses (`limitExceeded`) a file over 16 MiB,
    /// nested too deep, or with an iteration count over `limits.maxIterations` in its MAC or any
    /// key derivation it can see, so a hostile file costs no key derivation at all.
    public static func open(_ bytes: [UInt8], password: borrowing Secret, limits: PFXLimits = PFXLimits())
        throws(PKCS12Error) -> Backup
    {
        try PFXPreflight.check(bytes, limits: limits)
        let file = try PFXFile(bytes: bytes)
        let decoded = try password.withCString { (text) throws(PKCS12Error) -> SafeContentsDecoder in
            let candidates =
                password.isEmpty
                ? [PasswordCandidate(pointer: text, length: 0), PasswordCandidate(pointer: nil, length: 0)]
                : [PasswordCandidate(pointer: text, length: Int32(password.count))]
            return try decode(file, candidates: candidates, limits: limits)
        }
        return try assemble(decoded, mac: file.mac)
    }

    /// Describes a PFX without its password: parts, their encryption, the MAC. Encrypted parts
    /// show `.unknown` content. Throws `corrupt` when the structure does not parse.
    /// The same limits apply as for `open`.
    public static func inspect(_ bytes: [UInt8], limits: PFXLimits = PFXLimits()) throws(PKCS12Error) -> Inspection {
        try PFXPreflight.check(bytes, limits: limits)
        let file = try PFXFile(bytes: bytes)
        let decoded = SafeContentsDecoder(file: file, password: nil)
        return Inspection(bagSets: decoded.bagSets, mac: file.mac, keyCount: decoded.keys.count)
    }

    /// Writes a PFX holding `key`, its `certificate` and `chain` (leaf's issuer first), protected
    /// by `password` as `profile` says. Returns the file's bytes; writing them is the caller's job.
    ///
    /// Wraps `PKCS12_create_ex` (explicit key and certificate encryption NIDs, no MAC) and then
    /// `PKCS12_set_mac` with the profile's digest, since `PKCS12_create_ex` would use SHA-1.
    public static func make(
        key: PrivateKey, certificate: Certificate, chain: [Certificate] = [],
        friendlyName: String? = nil, password: borrowing Secret,
        profile: Profile = .modern
    ) throws(PKCS12Error) -> [UInt8] {
        guard key.matches(certificate) else {
            throw PKCS12Error(
                .keyDoesNotMatchCertificate,
                "the private key does not belong to the certificate \(certificate.subject)")
        }
        guard !password.containsNUL else {
            throw PKCS12Error(.invalidArgument, "a PFX password cannot contain a NUL byte")
        }
        let keyHandle = try key.makeHandle()
        let leaf = try X509Handle(der: certificate.der)
        var chainHandles: [X509Handle] = []
        for issuer in chain { chainHandles.append(try X509Handle(der: issuer.der)) }
        guard let stack = CB_sk_X509_new_null() else {
            throw OpenSSLRuntime.error(.openSSL, "out of memory", function: "sk_X509_new_null")
        }
        // The stack owns one reference per certificate, so the pop_free below balances X509_up_ref.
        defer { CB_sk_X509_pop_free(stack) }
        for handle in chainHandles {
            X509_up_ref(handle.pointer)
            guard CB_sk_X509_push(stack, handle.pointer) > 0 else {
                X509_free(handle.pointer)
                throw OpenSSLRuntime.error(.openSSL, "out of memory", function: "sk_X509_push")
            }
        }
        guard let digest = EVP_MD_fetch(nil, profile.macDigest, nil) else {
            throw OpenSSLRuntime.error(
                .unsupportedAlgorithm, "no \(profile.macDigest) digest", function: "EVP_MD_fetch")
        }
        defer { EVP_MD_free(digest) }
        let iterations = Int32(profile.iterations)
        return try password.withCString { (text) throws(PKCS12Error) -> [UInt8] in
            OpenSSLRuntime.ensureLoaded()
            // A mac_iter of -1 leaves the MAC out; PKCS12_set_mac adds it with our digest.
            guard
                let pkcs12 = PKCS12_create_ex(
                    text, friendlyName, keyHandle.pointer, leaf.pointer, stack,
                    profile.cipherNID, profile.cipherNID, iterations, -1, 0, nil, nil)
            else {
                throw OpenSSLRuntime.error(.openSSL, "cannot build the PFX", function: "PKCS12_create_ex")
            }
            defer { PKCS12_free(pkcs12) }
            guard PKCS12_set_mac(pkcs12, text, Int32(password.count), nil, 0, iterations, digest) == 1 else {
                throw OpenSSLRuntime.error(.openSSL, "cannot add the MAC", function: "PKCS12_set_mac")
            }
            guard let bytes = OpenSSLRuntime.der({ i2d_PKCS12(pkcs12, $0) }) else {
                throw OpenSSLRuntime.error(.openSSL, "cannot encode the PFX", function: "i2d_PKCS12")
            }
            return bytes
        }
    }

    /// Writes a PFX from a PKCS#8 PrivateKeyInfo DER (as C_WrapKey returns it, zero padding
    /// allowed); see `make(key:certificate:chain:friendlyName:password:profile:)`.
    public static func make(
        pkcs8DER: [UInt8], certificate: Certificate, chain: [Certificate] = [],
        friendlyName: String? = nil, password: borrowing Secret,
        profile: Profile = .modern
    ) throws(PKCS12Error) -> [UInt8] {
        try make(
            key: PrivateKey(pkcs8DER: pkcs8DER), certificate: certificate, chain: chain,
            friendlyName: friendlyName, password: password, profile: profile)
    }

    /// Decodes under the first candidate that the MAC (or, without a MAC, decryption) accepts,
    /// and otherwise decides between wrong password and damage (see `open`).
    private static func decode(_ file: PFXFile, candidates: [PasswordCandidate], limits: PFXLimits) throws(PKCS12Error)
        -> SafeContentsDecoder
    {
        let hasMAC = file.mac != nil
        var attempts: [SafeContentsDecoder] = []
        if hasMAC {
            guard file.macDigestIsSupported else {
                throw PKCS12Error(
                    .unsupportedAlgorithm,
                    "the PFX's MAC uses \(file.mac?.digest ?? "an unknown digest"), which OpenSSL lacks")
            }
            if let accepted = candidates.first(where: file.verifyMAC) {
                let decoded = SafeContentsDecoder(file: file, password: accepted, limits: limits)
                try requireClean(decoded, context: "the password is right (the MAC matches) but")
                return decoded
            }
            // Decrypting under each candidate shows whether the password is right after all.
            attempts = candidates.map { SafeContentsDecoder(file: file, password: $0, limits: limits) }
        } else {
            attempts = candidates.map { SafeContentsDecoder(file: file, password: $0, limits: limits) }
            if let clean = attempts.first(where: \.isClean) { return clean }
        }
        // Nothing accepted the password. A key over the iteration cap comes first: it was not tried.
        if let over = attempts.lazy.flatMap(\.overLimit).first { throw over }
        // Damage that no password explains comes first.
        if let unsupported = attempts.lazy.flatMap(\.unsupported).first {
            throw PKCS12Error(.unsupportedAlgorithm, unsupported)
        }
        if let damage = attempts.lazy.flatMap(\.structuralFailures).first {
            throw PKCS12Error(.corrupt, "the file is damaged: \(damage)")
        }
        if attempts.contains(where: { $0.decryptedCount > 0 }) {
            let check = hasMAC ? "its integrity check (MAC) fails" : "some of its contents do not decrypt"
            throw PKCS12Error(.corrupt, "the password decrypts the file but \(check): the file was altered or damaged")
        }
        throw PKCS12Error(
            .wrongPassword,
            hasMAC
                ? "wrong password, or the file is damaged (the integrity check fails)"
                : "wrong password (the file has no MAC; its contents do not decrypt)")
    }

    private static func requireClean(_ decoded: SafeContentsDecoder, context: String) throws(PKCS12Error) {
        if let over = decoded.overLimit.first { throw over }
        if let unsupported = decoded.unsupported.first {
            throw PKCS12Error(.unsupportedAlgorithm, unsupported)
        }
        if let failure = decoded.structuralFailures.first ?? decoded.decryptionFailures.first {
            throw PKCS12Error(.corrupt, "\(context) the file is damaged: \(failure)")
        }
    }

    /// Picks the key and its certificate, orders the chain, and checks everything decoded.
    private static func assemble(_ decoded: SafeContentsDecoder, mac: Inspection.MAC?) throws(PKCS12Error) -> Backup {
        guard !decoded.keys.isEmpty else {
            throw PKCS12Error(
                .noPrivateKey,
                decoded.certificates.isEmpty
                    ? "the file holds neither a private key nor a certificate"
                    : "the file holds certificates but no private key")
        }
        var keys: [(bag: SafeContentsDecoder.KeyBag, key: PrivateKey)] = []
        for bag in decoded.keys { keys.append((bag, try bag.key.get())) }
        var certificates: [Certificate] = []
        for bag in decoded.certificates { certificates.append(try Certificate(handle: bag.handle)) }

        // Each key takes its certificate: among those that hold its public key, the one whose
        // localKeyID agrees with the key's, since Windows and keytool pair them that way.
        var entries: [(key: Int, certificate: Int)] = []
        for (keyIndex, entry) in keys.enumerated() {
            let matching = certificates.indices.filter { index in
                entry.key.matches(certificates[index]) && !entries.contains { $0.certificate == index }
            }
            let byKeyID = matching.first { index in
                entry.bag.localKeyID != nil && decoded.certificates[index].localKeyID == entry.bag.localKeyID
            }
            if let index = byKeyID ?? matching.first { entries.append((keyIndex, index)) }
        }
        guard !entries.isEmpty else {
            throw PKCS12Error(
                .keyDoesNotMatchCertificate,
                certificates.isEmpty
                    ? "the file holds a private key but no certificate"
                    : "no certificate in the file belongs to the private key")
        }
        let inspection = Inspection(bagSets: decoded.bagSets, mac: mac, keyCount: keys.count)
        let leaves = Set(entries.map(\.certificate))
        func backup(_ chosen: (key: Int, certificate: Int)) -> Backup {
            let keyBag = keys[chosen.key].bag
            let leafBag = decoded.certificates[chosen.certificate]
            let order = ChainOrder.path(from: chosen.certificate, among: decoded.certificates.map(\.handle))
            let onPath = Set(order)
            return Backup(
                privateKey: keys[chosen.key].key,
                certificate: certificates[chosen.certificate],
                chain: order.map { certificates[$0] },
                // Another entry's certificate is that entry's, not a stray one of this.
                otherCertificates: certificates.indices.filter {
                    $0 != chosen.certificate && !onPath.contains($0) && !leaves.contains($0)
                }
                .map { certificates[$0] },
                friendlyName: keyBag.friendlyName ?? leafBag.friendlyName,
                localKeyID: keyBag.localKeyID ?? leafBag.localKeyID,
                inspection: inspection)
        }
        var first = backup(entries[0])
        first.otherEntries = entries.dropFirst().map(backup)
        first.keysWithoutCertificate = keys.count - entries.count
        return first
    }
}
