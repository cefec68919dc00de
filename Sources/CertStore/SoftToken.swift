import FoundationEssentials
public import PKCS11

/// CertBridge's software token, as the store sees it: a PKCS#11 module like any other, found
/// without registration so that the store works on a machine with no hardware at all.
public enum SoftToken {
    /// The library's file name.
    public static let libraryName = "libcertbridge-softtoken.so"
    /// The label of the token made on first use.
    public static let defaultLabel = "CertBridge"
    /// How long a software token PIN (user or SO) may be, in bytes.
    public static let pinLengths = 4...255
    /// Wrong PINs in a row that lock the user PIN.
    public static let pinTries = 5

    /// Where the module is: `$CERTBRIDGE_SOFTTOKEN_MODULE`, else beside the certbridge binary
    /// (a build tree), else `../lib/certbridge/` from it, else where the Debian package puts it
    /// (p11-kit's module directory), else `/usr/local/lib/certbridge` (where the
    /// `install-softtoken` script of earlier releases put it). nil when none exists.
    public static var modulePath: String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["CERTBRIDGE_SOFTTOKEN_MODULE"], !path.isEmpty { return path }
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let dir = exe.lastIndex(of: "/").map { String(exe[..<$0]) } ?? ""
            candidates += [dir + "/" + libraryName, dir + "/../lib/certbridge/" + libraryName]
        }
        candidates += ["/usr/lib/x86_64-linux-gnu/pkcs11/" + libraryName, "/usr/local/lib/certbridge/" + libraryName]
        return candidates.first { FileManager.default.isReadableFile(atPath: $0) }
    }
}

extension Token {
    /// The token is CertBridge's software token.
    public var isSoftToken: Bool { info.manufacturer == "CertBridge" && info.model == "Software token" }

    /// The token keeps a password per key for the High level (CertBridge's software token).
    public var hasKeyPasswords: Bool { isSoftToken }
}

extension Store {
    /// Whether the software token has a slot with no token in it, where `createSoftToken` makes one.
    public var canCreateSoftToken: Bool { softTokenEmptySlot != nil }

    /// The software token's slot with no token in it, where a new token is made.
    var softTokenEmptySlot: Slot? {
        for module in modules {
            guard (try? module.info())?.manufacturer == "CertBridge", let slots = try? module.slots() else { continue }
            if let slot = slots.first(where: { (try? $0.token())?.info.flags.contains(.tokenInitialized) == false }) {
                return slot
            }
        }
        return nil
    }

    /// Makes a software token: C_InitToken in the empty slot with the SO PIN, then C_InitPIN
    /// with the user PIN. Returns the new token.
    public func createSoftToken(label: String, soPIN: consuming PIN, userPIN: borrowing PIN) throws(StoreError) -> Token
    {
        guard let slot = softTokenEmptySlot else {
            throw StoreError(
                .notFound,
                "the CertBridge software token module is not loaded (\(SoftToken.libraryName) not found; install the certbridge package (scripts/package builds it) or set CERTBRIDGE_SOFTTOKEN_MODULE)"
            )
        }
        if tokens().contains(where: { $0.isSoftToken && $0.info.label == label }) {
            throw StoreError(.failed, "a software token labelled \"\(label)\" exists already")
        }
        do throws(PKCS11Error) {
            try slot.initializeToken(label: label, soPIN: soPIN)
            guard let token = tokens().first(where: { $0.isSoftToken && $0.info.label == label }) else {
                throw PKCS11Error(
                    .returned(.generalError), function: "C_InitToken", reason: "the new token did not appear")
            }
            let session = try token.openSession(readWrite: true)
            let so: PIN? = soPIN
            try session.login(.securityOfficer, pin: so)
            defer { try? session.logout() }
            try session.initializeUserPIN(userPIN)
            return token
        } catch {
            throw StoreError(error, doing: "making the software token \"\(label)\"")
        }
    }
}
