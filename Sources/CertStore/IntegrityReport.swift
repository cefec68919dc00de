internal import PKCS11

/// The software token's integrity report: a vendor-defined object (class
/// CKO_CERTBRIDGE_INTEGRITY_REPORT) that only a find for that class returns. Its
/// CKA_CERTBRIDGE_INTEGRITY_FAILURES is the number of objects that failed their check (damaged,
/// foreign, or an older copy put back), and its label the reasons, one per line. Other tokens
/// have none, and are not asked: a search on SoftHSM2 reads every object's file, which was a
/// tenth of listing 10,000 objects there.
extension Store {
    static let integrityReportClass = ObjectClass.certBridgeIntegrityReport
    static let integrityFailureCount = AttributeType.certBridgeIntegrityFailures

    /// Why objects on the session's token failed their check: what this session can see (a
    /// private object is checked only with the login).
    func integrityFailures(in session: Session, token: Token) -> [String] {
        guard token.isSoftToken, let report = (try? session.findObjects([Attribute(Self.integrityReportClass)]))?.first,
            let values = try? report.attributes([.label, Self.integrityFailureCount]),
            let count = values.ulong(Self.integrityFailureCount), count > 0
        else { return [] }
        let reasons = String(decoding: values[.label] ?? [], as: UTF8.self).split(separator: "\n").map(String.init)
        return reasons.map { "token \"\(token.info.label)\": \($0)" }
    }

    /// The integrity reports of every token, read without a login, for `certbridge tokens`.
    public func integrityFailuresWithoutLogin() -> [String] {
        tokens().flatMap { token -> [String] in
            guard let session = try? token.openSession(readWrite: false) else { return [] }
            return integrityFailures(in: session, token: token)
        }
    }

    /// Throws when a listing met objects that failed their integrity check: "1 object failed its
    /// integrity check", with the reasons.
    public func checkIntegrity() throws(StoreError) {
        guard !integrityFailures.isEmpty else { return }
        let count = integrityFailures.count
        throw StoreError(
            .failed,
            "\(count) object\(count == 1 ? "" : "s") failed \(count == 1 ? "its" : "their") integrity check: "
                + integrityFailures.joined(separator: "; "))
    }
}
