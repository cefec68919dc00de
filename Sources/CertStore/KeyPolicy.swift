internal import PKCS11

/// The Windows words for a key's protection, read back from the flags a token reports.
public enum SecurityLevel: String, Sendable, Codable, CaseIterable {
    /// Windows "Low": usable after the token login.
    case standard
    /// Windows "Medium", "request my permission": CKA_ALWAYS_AUTHENTICATE, and every use needs a
    /// yes/no approval (no password). The software token records it (CKA_CERTBRIDGE_APPROVAL = CKA_CERTBRIDGE_APPROVAL_CONFIRM).
    case medium
    /// Windows "High", "request my permission with a password when this item is to be used":
    /// CKA_ALWAYS_AUTHENTICATE, a context-specific login with a password before every use.
    case high

    /// Medium and High: CKA_ALWAYS_AUTHENTICATE=true.
    public var alwaysAuthenticates: Bool { self != .standard }

    /// The value of CertBridge's approval attribute for this level (0 none, 1 yes/no, 2 password).
    public var approvalValue: UInt { self == .standard ? 0 : self == .medium ? 1 : 2 }
}

/// The key flags that decide whether a key can leave its token, as the token reports them.
/// A flag the token did not report is nil: we never fill in what we asked for.
public struct KeyFlags: Sendable, Hashable, Codable {
    /// CKA_SENSITIVE.
    public var sensitive: Bool?
    /// CKA_EXTRACTABLE.
    public var extractable: Bool?
    /// CKA_ALWAYS_AUTHENTICATE.
    public var alwaysAuthenticate: Bool?
    /// CKA_NEVER_EXTRACTABLE.
    public var neverExtractable: Bool?
    /// CKA_ALWAYS_SENSITIVE.
    public var alwaysSensitive: Bool?
    /// CKA_LOCAL: generated on the token.
    public var local: Bool?
    /// CKA_PRIVATE: visible only after a login.
    public var `private`: Bool?
    /// The key has its own password for the High level (CertBridge's software token); nil on
    /// tokens that have no such thing.
    public var ownPassword: Bool?
    /// The approval every use needs, as CertBridge's software token records it (0 none, 1 a
    /// yes/no, 2 a password); nil on other tokens.
    public var approval: UInt?
    /// Wrong passwords the key still allows before it locks (CertBridge's software token, High keys).
    public var triesLeft: Int?

    /// The attributes to read for `init(_:)`.
    static let attributes: [AttributeType] = [
        .sensitive, .extractable, .alwaysAuthenticate, .neverExtractable,
        .alwaysSensitive, .local, .private, .certBridgeHasKeyPassword,
        .certBridgeApproval, .certBridgeTriesLeft,
    ]

    /// The flags from attributes read with `KeyFlags.attributes`; unreported ones stay nil.
    init(_ values: AttributeValues) {
        sensitive = values.bool(.sensitive)
        extractable = values.bool(.extractable)
        alwaysAuthenticate = values.bool(.alwaysAuthenticate)
        neverExtractable = values.bool(.neverExtractable)
        alwaysSensitive = values.bool(.alwaysSensitive)
        local = values.bool(.local)
        `private` = values.bool(.private)
        ownPassword = values.bool(.certBridgeHasKeyPassword)
        approval = values.ulong(.certBridgeApproval)
        triesLeft = values.ulong(.certBridgeTriesLeft).map { Int($0) }
    }

    /// Exportable: the token will let the key out: CKA_EXTRACTABLE (and the token does not say it
    /// never was). CKA_SENSITIVE=false alone is not enough: PKCS#11 (v2.40, footnote 7 of the attribute tables)
    /// hides a private key's value when CKA_SENSITIVE is true *or* CKA_EXTRACTABLE is false.
    public var isExportable: Bool {
        extractable == true && neverExtractable != true
    }

    /// Standard without CKA_ALWAYS_AUTHENTICATE; with it, Medium where the token records a yes/no
    /// approval, else High.
    public var securityLevel: SecurityLevel {
        guard alwaysAuthenticate == true else { return .standard }
        return approval == SecurityLevel.medium.approvalValue ? .medium : .high
    }

    /// Why the key is or is not exportable, naming the flags.
    public var exportabilityReason: String {
        if isExportable {
            return "CKA_EXTRACTABLE=true: the token wraps the key out on request"
                + (sensitive == false ? " (and CKA_SENSITIVE=false: it shows the key's value)" : "")
        }
        if extractable == nil {
            return "the token does not report CKA_EXTRACTABLE, so the key is treated as non-exportable"
        }
        return "CKA_EXTRACTABLE=false" + (neverExtractable == true ? ", CKA_NEVER_EXTRACTABLE=true" : "")
            + ": the token refuses to let the key out"
            + (sensitive == false ? " (CKA_SENSITIVE=false does not reveal a key that is not extractable)" : "")
    }

    /// The flags as `name=value` words, unreported ones left out.
    public var words: [String] {
        let named: [(String, Bool?)] = [
            ("sensitive", sensitive), ("extractable", extractable),
            ("always-authenticate", alwaysAuthenticate), ("never-extractable", neverExtractable),
            ("always-sensitive", alwaysSensitive), ("local", local), ("private", `private`),
            ("own-password", ownPassword),
        ]
        return named.compactMap { name, value in value.map { "\(name)=\($0 ? "yes" : "no")" } }
    }
}
