import Foundation

// The CLI's `--json` output as the CLI tests read it: one mirror of each documented shape, for
// every suite. These are the tests' own declarations, not the CLI's types, so a field renamed or
// dropped in the CLI fails a test instead of following along. A field the CLI always prints is
// required here; one it prints only for some objects (or some tokens) is optional.

/// Decodes the CLI's `--json` output the way it is printed (ISO 8601 dates).
public func decodeCLIJSON<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return try decoder.decode(T.self, from: data)
}

extension RunResult {
    /// Standard output decoded as the CLI's `--json`, whatever the exit status (a refusal such as
    /// check-exportable's exit 3 still prints its answer).
    public func json<T: Decodable>(_ type: T.Type) throws -> T { try decodeCLIJSON(type, from: stdoutData) }
}

/// A token as `tokens --json` lists it.
public struct TokenJSON: Decodable, Sendable {
    public let uri, label, manufacturer, model, serial, module, slotDescription: String
    public let slot: UInt
    /// `ok`, `count-low`, `final-try`, `locked` or `not-initialized`.
    public let pinState: String
    /// The token flags as words, e.g. `user-pin-count-low`.
    public let flags: [String]
}

extension TokenJSON {
    /// The token labelled `label` as `tokens --json` lists it through `modules`.
    public static func listed(_ label: String, modules: [String]) throws -> TokenJSON {
        let tokens = try CLI.json([TokenJSON].self, ["tokens"] + modules.flatMap { ["--module", $0] })
        guard let token = tokens.first(where: { $0.label == label }) else {
            throw TestSupportError("tokens --json does not list \(label): \(tokens.map(\.label))")
        }
        return token
    }
}

/// A key's flags as the token reported them; a flag the token did not report is nil.
public struct FlagsJSON: Decodable, Sendable {
    public let sensitive, extractable, alwaysAuthenticate, neverExtractable: Bool?
    public let alwaysSensitive, local, `private`: Bool?
    /// The key has its own password (the software token's High keys); nil on other tokens.
    public let ownPassword: Bool?

    /// Every flag the token reported, by its JSON name: a test compares the whole set at once.
    public var reported: [String: Bool] {
        let flags: [(String, Bool?)] = [
            ("sensitive", sensitive), ("extractable", extractable), ("alwaysAuthenticate", alwaysAuthenticate),
            ("neverExtractable", neverExtractable), ("alwaysSensitive", alwaysSensitive), ("local", local),
            ("private", `private`), ("ownPassword", ownPassword),
        ]
        return Dictionary(uniqueKeysWithValues: flags.compactMap { name, value in value.map { (name, $0) } })
    }
}

/// A certificate's names and dates, as `objects` and `import` show them.
public struct CertificateJSON: Decodable, Sendable {
    public let subject, issuer, serial: String
    public let notBefore, notAfter: Date
    /// `authority`, `user`, `other-entity` or `unspecified`, where the token records it.
    public let category: String?
}

/// An object as `objects --json` lists it (and `import --json` reports it).
public struct ObjectJSON: Decodable, Sendable {
    public let uri, `class`, label, id: String
    /// For keys.
    public let keyType: String?
    public let keyBits: Int?
    public let curve: String?
    public let flags: FlagsJSON?
    public let verdict: String?
    public let securityLevel: String?
    /// `sign`, `decrypt`, `unwrap`, `derive`, for private keys.
    public let usage: [String]?
    /// For certificates.
    public let certificate: CertificateJSON?
    /// The label of the certificate with the same id (for a key), or of the key (for a certificate).
    public let pairedWith: String?
}

/// What `import --json` placed.
public struct ImportJSON: Decodable, Sendable {
    public let token, label, id: String
    public let objects: [ObjectJSON]
    public let chainAlreadyPresent, replaced: Int
    public let notes, warnings: [String]
}

/// What `install-cert --json` did.
public struct InstallJSON: Decodable, Sendable {
    public let token, label, id: String
    public let installed: Bool
    public let chainAdded, chainAlreadyPresent: Int
}

/// An enrollment key pair waiting for its certificate, as `enroll list --json` shows it.
public struct PendingJSON: Decodable, Sendable {
    /// What `enroll new` recorded on the token.
    public struct Record: Decodable, Sendable {
        public let id, label, keySpec, subject: String
        public let subjectAlternativeNames: [String]
        public let created: Date
    }
    public let token, uri, securityLevel: String
    public let exportable: Bool
    public let record: Record
}

/// What `test-sign --json` reports.
public struct SelfTestJSON: Decodable, Sendable {
    public struct Step: Decodable, Sendable {
        public let name: String
        public let ok: Bool
        public let detail: String
    }
    public let key, keyType, securityLevel, mechanism: String
    public let steps: [Step]
    /// For a High key: the module signed without the context login.
    public let moduleLax: Bool?
    public let ok: Bool
}

/// What `check-exportable --json` answers.
public struct ExportabilityJSON: Decodable, Sendable {
    public let uri, token, label, reason, securityLevel: String
    public let exportable: Bool
    public let flags: FlagsJSON
}

/// What `sign --json` reports.
public struct SignatureJSON: Decodable, Sendable {
    public let key, mechanism, format, signature: String
    public let bytes: Int
}
