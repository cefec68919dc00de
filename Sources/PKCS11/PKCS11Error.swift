/// An error from the PKCS#11 layer: a Cryptoki return value with the function that gave it, or a
/// failure of the layer itself (a module that cannot load, a lookup that found 0 or 2+ objects).
public struct PKCS11Error: Error, Sendable, CustomStringConvertible {
    /// What went wrong, by kind.
    public enum Code: Hashable, Sendable {
        /// A Cryptoki function returned something other than CKR_OK.
        case returned(ReturnValue)
        /// The module has no entry for this function.
        case functionNotSupported
        /// dlopen or C_GetFunctionList failed.
        case moduleNotLoadable
        /// A PKCS#11 URI that we do not understand; we fail closed.
        case invalidURI
        /// A lookup that expected one object found none.
        case noSuchObject
        /// A lookup that expected one object found several.
        case moreThanOne
    }

    /// What went wrong.
    public let code: Code
    /// The Cryptoki function involved, e.g. `C_Login`.
    public let function: String?
    /// One sentence for a person. Never holds a PIN.
    public let reason: String
    /// Where the error was thrown (`#fileID`).
    public let file: String
    /// Where the error was thrown (`#line`).
    public let line: Int

    /// An error with its code, the function involved and a sentence.
    public init(_ code: Code, function: String? = nil, reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.function = function
        self.reason = reason
        self.file = file
        self.line = line
    }

    /// The return value, when the error came from a Cryptoki call.
    public var returnValue: ReturnValue? {
        if case .returned(let rv) = code { return rv }
        return nil
    }

    /// `C_Login: CKR_PIN_INCORRECT (0xA0)` for a return value; else function and reason.
    public var description: String {
        switch code {
        case .returned(let rv): return "\(function ?? "PKCS#11"): \(rv)"
        default: return function.map { "\($0): \(reason)" } ?? reason
        }
    }
}

extension PKCS11Error: Equatable {
    /// Errors are equal by code, so tests can match them without caring where they were thrown.
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}

/// Turns a Cryptoki call's result into Swift: nil means the module left the function pointer empty.
@inline(__always)
func check(_ function: StaticString, _ rv: UInt?, file: String = #fileID, line: Int = #line) throws(PKCS11Error) {
    guard let rv else {
        throw PKCS11Error(
            .functionNotSupported, function: "\(function)", reason: "the module does not provide \(function)",
            file: file, line: line)
    }
    guard rv == 0 else {
        let value = ReturnValue(rawValue: rv)
        throw PKCS11Error(
            .returned(value), function: "\(function)", reason: "\(function) returned \(value)", file: file, line: line)
    }
}
