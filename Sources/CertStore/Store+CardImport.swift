internal import PKCS11

/// A PIV card's key slots as Yubico's ykcs11 numbers them (CKA_ID 1..25, SP 800-73-4 key
/// references), and what the card does with a key's PIN by default in each.
///
/// ykcs11 (2.2) takes a private key through C_CreateObject only logged in as SO (the management
/// key, as hex), only with the CRT components, and without a PIN policy: the card applies the
/// slot's default. So the security level picks the slot: High goes to 9C, whose default policy
/// is "always" (a PIN for every signature); standard goes to a slot whose policy is "once"
/// (usable after the login). 9E (PIN "never") is never used: it would be weaker than asked.
struct PIVSlot: Sendable, Hashable {
    /// The CKA_ID ykcs11 gives the slot.
    let id: UInt8
    /// The key reference, e.g. 9C.
    let reference: UInt8
    /// The slot's name in SP 800-73-4.
    let name: String

    static let authentication = PIVSlot(id: 1, reference: 0x9A, name: "PIV Authentication")
    static let signature = PIVSlot(id: 2, reference: 0x9C, name: "Digital Signature")
    static let keyManagement = PIVSlot(id: 3, reference: 0x9D, name: "Key Management")
    /// The retired key-management slots 82..95 (ids 5..24), PIN policy "once" like 9D.
    static let retired: [PIVSlot] = (0..<20).map {
        PIVSlot(id: UInt8(5 + $0), reference: UInt8(0x82 + $0), name: "Retired Key Management \($0 + 1)")
    }

    /// Every slot a key can be imported to, except 9E (Card Authentication, PIN policy "never").
    static let all: [PIVSlot] = [authentication, signature, keyManagement] + retired

    /// The slots a key at `level` may go to, in order of preference.
    static func candidates(for level: SecurityLevel) -> [PIVSlot] {
        level == .high ? [signature] : [authentication, keyManagement] + retired
    }

    /// "slot 9C (Digital Signature)".
    var description: String {
        let digits = String(reference, radix: 16, uppercase: true)
        return "slot \(digits) (\(name))"
    }

    /// Whether the token comes from a module that places keys into PIV slots this way: Yubico's
    /// ykcs11, known by its library description.
    static func isPIVModule(_ token: Token) -> Bool {
        guard let info = try? token.slot.module.info() else { return false }
        return info.description.hasPrefix("PKCS#11 PIV Library") && info.manufacturer.hasPrefix("Yubico")
    }

    /// Whether the token is a PIV card seen through OpenSC's PIV emulation, which reads and signs
    /// but cannot write keys (C_CreateObject: CKR_FUNCTION_NOT_SUPPORTED).
    static func isReadOnlyPIVView(_ token: Token) -> Bool {
        token.info.manufacturer.trimmingTrailingSpaces == "piv_II"
    }
}

extension Store {
    /// Places a key and its certificate in a slot of a PIV card through ykcs11, logged in as SO
    /// with the card's management key. What the card cannot hold is said in the result's notes
    /// (no chain, no label, never exportable), never silently dropped; a key is never placed
    /// less strictly than asked. PKCS#11 cannot remove a key from a PIV card, so if a step fails
    /// after the key was written the error names the slot that holds it.
    func importOntoPIVCard(
        _ item: ImportItem, to token: Token, options: ImportOptions,
        securityOfficerPIN: PINProvider?
    ) throws(StoreError) -> ImportResult {
        // Everything that can be checked is checked before the first write.
        let leaf = try CertificateObject(der: item.certificate)
        guard leaf.keyID == item.key.id else {
            throw StoreError(
                .failed, "the certificate \"\(leaf.certificate.subject)\" does not belong to the private key")
        }
        var components = try Self.pivKeyComponents(item.key)
        defer { for i in components.indices { components[i].wipe() } }
        let tokenName = "\"\(token.info.label)\""
        var notes: [String] = []
        if options.exportable {
            notes.append(
                "\(tokenName) is a PIV card: it never lets a private key out, so the key is non-exportable there despite --exportable (stricter than asked); keep the PFX file as the backup"
            )
        }
        if options.includeChain && !item.chain.isEmpty {
            notes.append(
                "a PIV card holds one certificate per key slot and no CA certificates: the \(item.chain.count) chain certificate(s) of the backup were not placed"
            )
        }
        if options.label != nil || item.friendlyName != nil {
            notes.append("PIV slots have fixed names: the label is not stored on the card")
        }
        guard let securityOfficerPIN else {
            throw StoreError(
                .usage,
                "\(tokenName) is a PIV card: it takes keys only with its management key (the SO PIN, 48 hex digits); give it with --so-pin-source"
            )
        }

        // ykcs11 refuses the SO login while a read-only session is open on the slot.
        let session: Session
        do throws(PKCS11Error) {
            session = try token.openSession(readWrite: true)
        } catch {
            throw StoreError(error, doing: "opening a session on \(tokenName)", token: token)
        }
        let managementKey = try securityOfficerPIN(token)
        let isHexKey = managementKey.withUnsafeBytes { bytes in
            bytes.count == 48 && bytes.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0 & 0xDF) }
        }
        guard isHexKey else {
            throw StoreError(
                .wrongSecret,
                "the management key of \(tokenName) must be given as 48 hex digits (a 3DES key); nothing was written")
        }
        let secret = Optional(managementKey)
        do throws(PKCS11Error) {
            try session.login(.securityOfficer, pin: secret)
        } catch {
            throw StoreError(error, doing: "logging in to \(tokenName) as SO with the management key", token: token)
        }
        defer { try? session.logout() }

        // Which slots are taken: ids of the keys and certificates ykcs11 sees.
        var taken: [UInt8: Bool] = [:]  // id → holds this very certificate
        do throws(PKCS11Error) {
            for objectClass in [ObjectClass.privateKey, .certificate] {
                for object in try session.findObjects([Attribute(objectClass)]) {
                    let values = try object.attributes([.id, .value])
                    guard let id = values.id?.first, values.id?.count == 1 else { continue }
                    taken[id] =
                        (taken[id] ?? false) || (objectClass == .certificate && values[.value] == item.certificate)
                }
            }
        } catch {
            throw StoreError(error, doing: "reading the slots of \(tokenName)", token: token)
        }
        let candidates = PIVSlot.candidates(for: options.securityLevel)
        if !options.replace, let present = taken.first(where: { $0.value })?.key {
            let name = PIVSlot.all.first { $0.id == present }?.description ?? "the slot with id \(present)"
            throw StoreError(.failed, "this key is already on \(tokenName) in \(name); use --replace to write it again")
        }
        let slot: PIVSlot
        if options.replace, let same = candidates.first(where: { taken[$0.id] == true }) {
            slot = same
        } else if let free = candidates.first(where: { taken[$0.id] == nil }) {
            slot = free
        } else if options.replace {
            slot = candidates[0]
        } else {
            let which =
                options.securityLevel == .high
                ? "\(PIVSlot.signature.description), the only slot that asks for the PIN on every use, holds a key already"
                : "every PIV slot with PIN policy \"once\" holds a key already"
            throw StoreError(.failed, "\(which) on \(tokenName); use --replace to overwrite it")
        }
        let replaced = taken[slot.id] != nil ? 1 : 0
        if options.securityLevel == .high {
            notes.append(
                "security level High: placed in \(slot.description), where the card asks for the PIN before every signature (PIN policy \"always\")"
            )
        } else {
            notes.append("placed in \(slot.description) (PIN policy \"once\": usable after the PIN login)")
        }

        // The writes: key, then certificate. ykcs11 derives the public key object from them.
        // A card slot is overwritten, never added to, and PKCS#11 cannot empty it again: the
        // journal can only make the next command say what an interrupted import left.
        let journal = try ImportJournal(
            operation: "import of \"\(item.friendlyName ?? leaf.commonName ?? "key")\"", token: token, session: session,
            irreversible:
                "\(slot.description) may hold the new key without its certificate, or its old contents; PKCS#11 cannot remove a key from a PIV card, so run the same import again with --replace"
        )
        var step = "private key"
        do throws(PKCS11Error) {
            let keyTemplate =
                [
                    Attribute(.privateKey), Attribute(item.key.keyType), Attribute(.id, bytes: [slot.id]),
                    Attribute(.token, true), Attribute(.sensitive, true),
                ] + components
            _ = try session.createObject(keyTemplate)
            step = "certificate"
            _ = try session.createObject([
                Attribute(.certificate), Attribute(CertificateType.x509),
                Attribute(.id, bytes: [slot.id]), Attribute(.token, true),
                Attribute(.value, bytes: item.certificate),
            ])
        } catch {
            var storeError = StoreError(
                error, doing: "writing the \(step) to \(slot.description) of \(tokenName)", token: token)
            if storeError.code != .notFound && Self.cardWasRemoved(from: token) {
                storeError = StoreError(
                    .notFound,
                    "the card was removed while the \(step) was written to \(slot.description) of \(tokenName) (\(error))"
                )
            }
            let left =
                step == "private key"
                ? "; the card did not take the key: \(slot.description) holds what it held before (or, if the card was pulled while writing, possibly the new key without a certificate)"
                : "; left on the card: the private key in \(slot.description), without its certificate (PKCS#11 cannot delete a key from a PIV card; it is useless without its certificate; the same import with --replace overwrites it)"
            journal.commit()  // said here already; nothing for the next command to add
            throw StoreError(storeError.code, storeError.reason + left)
        }
        journal.commit()

        // Read back what the card holds, and hold it to what was asked.
        do {
            let objects = try session.findObjects([Attribute(.id, bytes: [slot.id])])
            var summaries: [ObjectSummary] = []
            for object in objects { summaries.append(try summary(of: object, on: token)) }
            let order = ["private-key", "public-key", "certificate"]
            summaries.sort {
                (order.firstIndex(of: $0.class) ?? order.count) < (order.firstIndex(of: $1.class) ?? order.count)
            }
            guard let key = summaries.first(where: { $0.class == "private-key" }), let flags = key.flags else {
                throw StoreError(.failed, "\(tokenName) does not show the key it was given in \(slot.description)")
            }
            if flags.isExportable {
                throw StoreError(
                    .failed,
                    "\(tokenName) reports the key in \(slot.description) as exportable (\(flags.exportabilityReason)); it stays there, but do not rely on it"
                )
            }
            if options.securityLevel == .high && flags.alwaysAuthenticate != true {
                throw StoreError(
                    .failed,
                    "\(tokenName) does not report CKA_ALWAYS_AUTHENTICATE for the key in \(slot.description): it is not at the High level; it stays there, overwrite it with another import"
                )
            }
            return ImportResult(
                token: token.info.label, label: key.label, id: hex([slot.id]), objects: summaries,
                chainAlreadyPresent: 0, replaced: replaced, notes: notes)
        } catch let error as PKCS11Error {
            throw StoreError(error, doing: "reading back \(slot.description) of \(tokenName)", token: token)
        } catch {
            throw error as? StoreError ?? StoreError(.failed, "\(error)")
        }
    }

    /// The key components ykcs11 takes: RSA 1024 or 2048 with exponent 65537 as the CRT values,
    /// each as long as a prime; EC P-256 or P-384 as the private value, as long as the field.
    static func pivKeyComponents(_ key: KeyMaterial) throws(StoreError) -> [Attribute] {
        let attributes = key.privateAttributes
        func value(_ type: AttributeType) -> [UInt8] { attributes.first { $0.type == type }?.value ?? [] }
        // Written into one buffer of the final length, so no stray copy of a secret is left unwiped.
        func padded(_ bytes: [UInt8], to length: Int) -> [UInt8] {
            let significant = bytes.drop { $0 == 0 }
            guard significant.count <= length else { return bytes }
            var out = [UInt8](repeating: 0, count: length)
            out.replaceSubrange((length - significant.count)..<length, with: significant)
            return out
        }
        if key.keyType == .rsa {
            let bits = bitLength(value(.modulus))
            guard bits == 1024 || bits == 2048 else {
                throw StoreError(
                    .failed, "a PIV card holds RSA keys of 1024 or 2048 bits; this one has \(bits): nothing was written"
                )
            }
            guard value(.publicExponent).drop(while: { $0 == 0 }).elementsEqual([0x01, 0x00, 0x01]) else {
                throw StoreError(
                    .failed, "a PIV card holds RSA keys with public exponent 65537 only: nothing was written")
            }
            let half = bits / 16
            return [Attribute(.publicExponent, bytes: [0x01, 0x00, 0x01])]
                + [AttributeType.prime1, .prime2, .exponent1, .exponent2, .coefficient].map {
                    Attribute($0, bytes: padded(value($0), to: half))
                }
        }
        if key.keyType == .ec, let curve = namedCurves[value(.ecParams)], curve.name == "P-256" || curve.name == "P-384"
        {
            return [
                Attribute(.ecParams, bytes: value(.ecParams)),
                Attribute(.value, bytes: padded(value(.value), to: curve.bits / 8)),
            ]
        }
        throw StoreError(
            .failed,
            "a PIV card holds RSA 1024/2048 and EC P-256/P-384 keys only; this key is none of them: nothing was written"
        )
    }
}
