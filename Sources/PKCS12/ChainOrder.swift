internal import COpenSSL

/// Orders certificates by who issued whom.
enum ChainOrder {
    /// Indices of `leaf`'s issuer, its issuer's issuer, ... up to a self-issued root or the
    /// first certificate whose issuer is not among `certificates` (`X509_check_issued`, `X509_verify`).
    static func path(from leaf: Int, among certificates: [X509Handle]) -> [Int] {
        var path: [Int] = []
        var current = leaf
        var used: Set<Int> = [leaf]
        while X509_check_issued(certificates[current].pointer, certificates[current].pointer) != X509_V_OK {
            guard
                let issuer = certificates.indices.first(where: {
                    !used.contains($0) && Certificate.isIssued(certificates[current], by: certificates[$0])
                })
            else { break }
            path.append(issuer)
            used.insert(issuer)
            current = issuer
        }
        ERR_clear_error()
        return path
    }
}
