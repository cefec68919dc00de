internal import PKCS11

/// How a token is reached, for messages that must say why a mechanism is missing. p11-kit's RPC
/// (`p11-kit server` + `p11-kit-client.so`, or a `remote:` module behind p11-kit's proxy) forwards
/// only the mechanisms whose parameters it knows how to serialize: p11-kit 0.24 drops, among
/// others, CKM_AES_KEY_WRAP_PAD and CKM_AES_CBC_PAD (export), the SHA-2 CKM_*_RSA_PKCS_PSS forms
/// (the store then hashes in software over CKM_RSA_PKCS_PSS) and CKM_EDDSA. Logins of every user
/// type, CKA_ALWAYS_AUTHENTICATE and the other attributes cross it unchanged.
enum TokenRoute {
    /// Through `p11-kit-client.so`: the token sits behind a `p11-kit server` somewhere.
    case remoting
    /// Through p11-kit's proxy module, which may hold `remote:` modules.
    case proxy
    /// A module loaded in this process.
    case direct

    init(_ token: Token) {
        let file = token.slot.module.path.split(separator: "/").last.map(String.init) ?? ""
        if file.hasPrefix("p11-kit-client") {
            self = .remoting
        } else if file.hasPrefix("p11-kit-proxy") || (try? token.slot.module.info().manufacturer) == "PKCS#11 Kit" {
            self = .proxy
        } else {
            self = .direct
        }
    }
}

extension StoreError {
    /// The token offers none of `mechanisms`, which `operation` needs: one sentence that names
    /// them and says whether p11-kit remoting is why, instead of a bare CKR_MECHANISM_INVALID.
    static func missingMechanism(
        _ mechanisms: [MechanismType], for operation: String, token: Token,
        file: String = #fileID, line: Int = #line
    ) -> StoreError {
        let names = mechanisms.map(\.name)
        let wanted = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " or " + names.last!
        let label = token.info.label
        let module = token.slot.module.path.split(separator: "/").last.map(String.init) ?? token.slot.module.path
        let why =
            switch TokenRoute(token) {
            case .remoting:
                "the token \"\(label)\" is reached through p11-kit remoting (\(module)), which does not forward \(names.count == 1 ? "it" : "them"); do this on the machine that holds the token"
            case .proxy:
                "the token \"\(label)\" is reached through p11-kit's proxy (\(module)), which does not offer \(names.count == 1 ? "it" : "them") (p11-kit remoting does not forward \(names.count == 1 ? "it" : "them"))"
            case .direct:
                "the token \"\(label)\" (module \(module)) does not offer \(names.count == 1 ? "it" : "them")"
            }
        return StoreError(.failed, "\(operation) needs \(wanted), and \(why)", file: file, line: line)
    }
}
