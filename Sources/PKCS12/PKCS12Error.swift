/// A failure reading or writing a PFX, or handling a certificate or key.
///
/// Errors are equal when their codes are equal, so tests and callers can match
/// `PKCS12Error.wrongPassword` whatever the reason text says. The reason never holds a password.
public struct PKCS12Error: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// A stable error code; an open set so new codes do not break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, stable across releases (for logs and JSON).
        public let name: String
        /// The code's name.
        public var description: String { name }

        /// The password does not open the file (or the file is damaged in a way that hides which).
        public static let wrongPassword = Code(name: "wrongPassword")
        /// The bytes are not a well-formed PFX, certificate or key (truncated, altered, wrong format).
        public static let corrupt = Code(name: "corrupt")
        /// A key type, curve, cipher or digest this bridge does not handle.
        public static let unsupportedAlgorithm = Code(name: "unsupportedAlgorithm")
        /// The PFX holds no private key.
        public static let noPrivateKey = Code(name: "noPrivateKey")
        /// No certificate in the file belongs to the private key, or a key and certificate differ.
        public static let keyDoesNotMatchCertificate = Code(name: "keyDoesNotMatchCertificate")
        /// A caller-supplied value cannot be used (e.g. a password with a NUL byte).
        public static let invalidArgument = Code(name: "invalidArgument")
        /// OpenSSL failed in a way none of the codes above describe.
        public static let openSSL = Code(name: "openSSL")
        /// The file asks for more work than allowed (an iteration count above the cap, a file
        /// too large, nesting too deep): refused before any key derivation.
        public static let limitExceeded = Code(name: "limitExceeded")
    }

    /// What kind of failure, for programs.
    public let code: Code
    /// One sentence for a person, with OpenSSL's own error text where it helps.
    public let reason: String
    /// Where in this library the error was raised (`#fileID`, `#line`).
    public let file: String
    /// Where the error was thrown (`#line`).
    public let line: Int

    /// An error with `code` and a reason a person can read; never put a password in `reason`.
    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    /// `code: reason`.
    public var description: String { "\(code): \(reason)" }

    /// Equal by code, so tests match outcomes, not wording.
    public static func == (lhs: PKCS12Error, rhs: PKCS12Error) -> Bool { lhs.code == rhs.code }
    /// Hashes the code.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// Matchers for `#expect(throws:)` and `catch` clauses; equal to any error with the same code.
    public static let wrongPassword = PKCS12Error(.wrongPassword, "wrong password")
    /// Damaged or not a PFX, for matching in tests.
    public static let corrupt = PKCS12Error(.corrupt, "damaged or not a PFX")
    /// An algorithm OpenSSL cannot handle, for matching in tests.
    public static let unsupportedAlgorithm = PKCS12Error(.unsupportedAlgorithm, "unsupported algorithm")
    /// A file without a private key, for matching in tests.
    public static let noPrivateKey = PKCS12Error(.noPrivateKey, "no private key")
    /// A key without its certificate, for matching in tests.
    public static let keyDoesNotMatchCertificate = PKCS12Error(
        .keyDoesNotMatchCertificate, "key does not match certificate")
    /// A bad argument, for matching in tests.
    public static let invalidArgument = PKCS12Error(.invalidArgument, "invalid argument")
    /// Another OpenSSL failure, for matching in tests.
    public static let openSSL = PKCS12Error(.openSSL, "OpenSSL failure")
    /// A file over a limit, for matching in tests.
    public static let limitExceeded = PKCS12Error(.limitExceeded, "over a limit")
}
