import Foundation

/// How `openssl` checks a signature that certbridge made with `mechanism` (its CLI name, e.g.
/// `rsa-pss-sha384`, `ecdsa-sha256`, `eddsa`) over the file `data`, against a public key PEM:
/// `pkeyutl -rawin` for EdDSA, `dgst` with the PSS options for RSA-PSS, plain `dgst` otherwise.
public func opensslVerify(_ mechanism: String, publicKey: String, data: String, signature: String) throws
    -> RunResult
{
    let digest = "-" + (mechanism.split(separator: "-").last.map(String.init) ?? "sha256")
    if mechanism == "eddsa" {
        return try run(
            "openssl",
            ["pkeyutl", "-verify", "-pubin", "-inkey", publicKey, "-rawin", "-in", data, "-sigfile", signature])
    }
    if mechanism.hasPrefix("rsa-pss") {
        return try run(
            "openssl",
            [
                "dgst", digest, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest",
                "-verify", publicKey, "-signature", signature, data,
            ])
    }
    return try run("openssl", ["dgst", digest, "-verify", publicKey, "-signature", signature, data])
}

extension FixtureRig {
    /// How the signing tests start: a fresh rig of `fixture`, one test key installed on its
    /// token, and a file holding `data` to sign.
    public static func signing(
        _ fixture: any TokenFixture, _ type: TestKeyType, high: Bool = false, label: String, id: [UInt8],
        data: String
    ) throws -> (rig: FixtureRig, key: InstalledKey, data: String) {
        let rig = try FixtureRig(fixture)
        let key = try rig.install(type, high: high, label: label, id: id)
        return (rig, key, try rig.dir.write("data", data))
    }

    /// A fresh rig of `fixture` holding these test keys (each with its public key and
    /// certificate), installed in order: what the listing tests start from.
    public static func holding(
        _ fixture: any TokenFixture, _ keys: [(type: TestKeyType, high: Bool, label: String, id: [UInt8])]
    ) throws -> FixtureRig {
        let rig = try FixtureRig(fixture)
        for key in keys { _ = try rig.install(key.type, high: key.high, label: key.label, id: key.id) }
        return rig
    }
}
