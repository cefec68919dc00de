import PKCS12

/// A certification path, leaf first: where it ends, and how to complete it from more CA
/// certificates ("include all certificates in the certification path if possible").
enum CertificationPath {
    /// `chain` (the leaf's issuers, in order) extended with issuers from `extra` until it
    /// reaches a self-issued root or runs out.
    static func completing(leaf: [UInt8], chain: [[UInt8]], with extra: [[UInt8]]) -> [[UInt8]] {
        guard !extra.isEmpty, var current = try? PKCS12.Certificate(der: chain.last ?? leaf) else { return chain }
        let candidates = extra.compactMap { try? PKCS12.Certificate(der: $0) }
        var path = chain
        while !current.isSelfIssued, path.count < 10,
            let issuer = candidates.first(where: {
                $0.der != current.der && !path.contains($0.der) && current.isIssued(by: $0)
            })
        {
            path.append(issuer.der)
            current = issuer
        }
        return path
    }

    /// The warning for a path that stops short of a self-signed root, naming the missing
    /// issuer and the option that supplies it; nil for a complete path.
    static func incompleteWarning(leaf: [UInt8], chain: [[UInt8]], option: String) -> String? {
        guard let last = try? PKCS12.Certificate(der: chain.last ?? leaf), !last.isSelfIssued else { return nil }
        return
            "the certification path stops short of a self-signed root: the issuer \"\(last.issuer)\" of \"\(last.subject)\" is missing "
            + "(\(chain.count + 1) certificate(s) in the path); give the CA certificates with \(option) FILE (a PEM bundle or DER)"
    }
}
