internal import PKCS11

/// An error from a store operation, with the exit code the CLI documents and one sentence for a
/// person. It never carries a PIN or password.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// The documented outcome; the raw value is the CLI's exit code.
    public enum Code: Int32, Sendable {
        case failed = 1
        case usage = 2
        case notExportable = 3
        case wrongSecret = 4
        case notFound = 5
        case locked = 6
    }

    /// The documented outcome.
    public let code: Code
    /// One sentence for a person.
    public let reason: String
    /// Where the error was thrown (`#fileID`).
    public let file: String
    /// Where the error was thrown (`#line`).
    public let line: Int

    /// An error with its outcome and sentence.
    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    /// The sentence for a person.
    public var description: String { reason }

    /// An outcome already told to the user (e.g. "not exportable" printed as the answer): the
    /// CLI exits with its code and prints nothing more.
    public static func silent(_ code: Code) -> StoreError { StoreError(code, "") }
}

extension StoreError: Equatable {
    /// Equal by code, so tests match outcomes, not wording.
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}

extension StoreError {
    /// Maps a PKCS#11 failure to the documented outcome. `token` adds what the token says about
    /// its PIN counters to a wrong-PIN message, where it says anything.
    init(
        _ error: PKCS11Error, doing action: String, token: Token? = nil, file: String = #fileID, line: Int = #line
    ) {
        let code: Code
        var sentence = "\(action) failed: \(error)"
        switch error.code {
        case .returned(.pinIncorrect), .returned(.pinInvalid), .returned(.pinLenRange):
            code = .wrongSecret
            sentence = "\(action) failed: wrong PIN or password (\(error))"
            if let token, let flags = try? token.refreshed().info.flags {
                if flags.contains(.userPINLocked) {
                    self.init(
                        .locked,
                        "\(action) failed: wrong PIN, and the PIN is now locked; unblock it with `certbridge pin unblock`",
                        file: file, line: line)
                    return
                } else if flags.contains(.userPINFinalTry) {
                    sentence += "; one try left before the PIN locks"
                } else if flags.contains(.userPINCountLow) {
                    sentence += "; few tries left before the PIN locks"
                }
            }
        case .returned(.pinLocked):
            code = .locked
            sentence = "\(action) failed: the PIN is locked (\(error)); unblock it with `certbridge pin unblock`"
        case .returned(.tokenNotPresent), .returned(.deviceRemoved), .returned(.slotIDInvalid),
            .returned(.sessionHandleInvalid), .returned(.sessionClosed):
            code = .notFound
            sentence = "\(action) failed: the token is gone (\(error)); was the card removed?"
        case .noSuchObject, .moreThanOne:
            code = .notFound
            sentence = "\(action) failed: \(error.reason)"
        case .invalidURI:
            code = .usage
            sentence = error.reason
        case .moduleNotLoadable:
            code = .notFound
            sentence = error.reason
        default:
            code = .failed
        }
        self.init(code, sentence, file: file, line: line)
    }
}
