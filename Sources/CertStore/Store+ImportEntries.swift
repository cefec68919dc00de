internal import PKCS11
import PKCS12

extension Store {
    /// The key entries of a backup an import places: every one, or the one whose friendlyName
    /// is `friendlyName`. A key with no certificate is never dropped in silence: without a
    /// choice, such a file is refused.
    public static func entries(of backup: Backup, friendlyName: String?, file: String) throws(StoreError) -> [Backup] {
        let entries = backup.entries
        if let friendlyName {
            guard let picked = entries.first(where: { $0.friendlyName == friendlyName }) else {
                let names = entries.map { $0.friendlyName.map { "\"\($0)\"" } ?? "(no name)" }.joined(separator: ", ")
                throw StoreError(
                    .notFound,
                    "\(file) has no key entry with the friendly name \"\(friendlyName)\"; its entries: \(names)")
            }
            return [picked]
        }
        if backup.keysWithoutCertificate > 0 {
            throw StoreError(
                .failed,
                "\(file) holds \(backup.keysWithoutCertificate) private key(s) without a certificate, which an import cannot place; "
                    + "pick an entry with --friendly-name (\(entries.compactMap(\.friendlyName).map { "\"\($0)\"" }.joined(separator: ", "))); nothing was written"
            )
        }
        return entries
    }

    /// Places several key entries of one backup on a token, each with its certificate and chain,
    /// as one import: when one fails, the entries placed before it are removed again, so the
    /// token is left as it was. One entry is `importBackup`.
    /// `extraChain` (CA certificates, DER) completes each entry's path beyond the file's; a path
    /// that still stops short of a self-signed root gives a warning naming the missing issuer.
    public func importBackupEntries(
        _ entries: [Backup], to token: Token, options: ImportOptions, extraChain: [[UInt8]] = [],
        pin: PINProvider?, securityOfficerPIN: PINProvider? = nil
    ) throws(StoreError) -> [ImportResult] {
        let items = entries.map { entry in
            let item = ImportItem(entry)
            return ImportItem(
                key: item.key, certificate: item.certificate,
                chain: CertificationPath.completing(leaf: item.certificate, chain: item.chain, with: extraChain),
                friendlyName: item.friendlyName)
        }
        // An EdDSA key is refused before anything is written on a token that cannot use it.
        if items.contains(where: { $0.key.keyType == .ecEdwards }),
            (try? token.slot.mechanisms().contains(.eddsa)) != true
        {
            throw StoreError(
                .failed,
                "\"\(token.info.label)\" does not offer CKM_EDDSA, so it cannot sign with an Ed25519 or Ed448 key; nothing was written"
            )
        }
        func warned(_ result: ImportResult, _ item: ImportItem) -> ImportResult {
            guard options.includeChain,
                let warning = CertificationPath.incompleteWarning(
                    leaf: item.certificate, chain: item.chain, option: "--chain-file")
            else { return result }
            var result = result
            result.warnings.append(warning)
            return result
        }
        guard items.count > 1 else {
            return try items.map { (item) throws(StoreError) in
                warned(
                    try importBackupItem(
                        item, to: token, options: options, pin: pin, securityOfficerPIN: securityOfficerPIN), item)
            }
        }
        let pick =
            "pick one with --friendly-name (\(entries.map { $0.friendlyName.map { "\"\($0)\"" } ?? "(no name)" }.joined(separator: ", "))); nothing was written"
        if PIVSlot.isPIVModule(token) || PIVSlot.isReadOnlyPIVView(token) {
            throw StoreError(
                .usage, "the backup holds \(entries.count) keys and a PIV card takes one per import; " + pick)
        }
        if options.label != nil {
            throw StoreError(.usage, "--label names one key, and the backup holds \(entries.count); " + pick)
        }
        if options.replace {
            // A replaced key cannot be put back, so a later failure could not undo it.
            throw StoreError(
                .usage, "--replace works on one key at a time, and the backup holds \(entries.count); " + pick)
        }
        // One journal for every entry, so a kill in a later one rolls back the earlier ones too.
        let journal = try ImportJournal(
            operation: "import of \(entries.count) key entries", token: token,
            session: try session(on: token, readWrite: true, pin: pin))
        var results: [ImportResult] = []
        var placed: [Object] = []
        for (index, entry) in entries.enumerated() {
            do {
                results.append(
                    warned(
                        try importItem(
                            items[index], to: token, options: options, pin: pin, fault: nil, journal: journal
                        ) { placed += $0 }, items[index]))
            } catch {
                var left: [String] = []
                for object in placed.reversed() {
                    do throws(PKCS11Error) { try object.destroy() } catch {
                        left.append("object \(object.handle) (\(error))")
                    }
                }
                let undone =
                    index == 0
                    ? ""
                    : left.isEmpty
                        ? "; the \(index) key entr\(index == 1 ? "y" : "ies") placed before it were removed again"
                        : "; could not remove \(left.count) object(s) of the entries placed before it: \(left.joined(separator: ", "))"
                journal.undo()
                let name = entry.friendlyName.map { " \"\($0)\"" } ?? ""
                throw StoreError(
                    error.code, "key entry \(index + 1) of \(entries.count)\(name): " + error.reason + undone)
            }
        }
        journal.commit()
        return results
    }
}
