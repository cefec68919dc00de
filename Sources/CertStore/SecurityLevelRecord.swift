internal import PKCS11

/// Where a Medium level is recorded on a token that has no attribute for it (every token but
/// CertBridge's software token, which keeps CKA_CERTBRIDGE_APPROVAL in the key itself):
/// a private data object beside the key, labelled "CertBridge security level: LABEL", with the
/// application "CertBridge security level" and the value "medium ID-HEX". The key itself carries
/// CKA_ALWAYS_AUTHENTICATE=true, which the token enforces; the record only says that a yes/no,
/// not a password, is what CertBridge asks before each use.
enum SecurityLevelRecord {
    static let application = "CertBridge security level"
    static let labelPrefix = "CertBridge security level: "

    /// The record's template for a Medium key.
    static func template(keyLabel: String, id: [UInt8]) -> [Attribute] {
        [
            Attribute(.data), Attribute(.token, true), Attribute(.private, true),
            Attribute(.label, string: labelPrefix + keyLabel),
            Attribute(.application, string: application), Attribute(.value, bytes: Array("medium \(hex(id))".utf8)),
        ]
    }

    /// Whether the token holds a Medium record for this key.
    static func isMedium(session: Session, keyLabel: String, idHex: String) -> Bool {
        guard
            let records = try? session.findObjects([
                Attribute(.data), Attribute(.label, string: labelPrefix + keyLabel),
            ])
        else { return false }
        let wanted = Array("medium \(idHex)".utf8)
        return records.contains { (try? $0.attributes([.value]))?[.value] == wanted }
    }

    /// Whether a key with these flags is Medium by its record: CKA_ALWAYS_AUTHENTICATE with no
    /// approval attribute, on a token other than the software token, with its record beside it.
    static func isMedium(_ flags: KeyFlags, keyLabel: String, idHex: String, session: Session, token: Token) -> Bool {
        flags.alwaysAuthenticate == true && flags.approval == nil && !token.isSoftToken
            && isMedium(session: session, keyLabel: keyLabel, idHex: idHex)
    }

    /// Whether a listed object is such a record (the listing leaves them out).
    static func isRecord(_ summary: ObjectSummary) -> Bool {
        summary.class == "data" && summary.label.hasPrefix(labelPrefix)
    }
}
