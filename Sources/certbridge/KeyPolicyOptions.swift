import ArgumentParser
import CertStore

/// The policy a new key gets on the token, the same words for a key imported (`import`) and a
/// key generated (`enroll new`): flags only tighten later, so this is decided now.
struct KeyPolicyOptions: ParsableArguments {
    @Flag(help: "Mark the key as exportable (CKA_EXTRACTABLE=true), so it can be backed up.")
    var exportable = false

    @Option(
        help: ArgumentHelp(
            "standard (Windows Low): usable after the token login; medium: a yes/no approval at every use; high: a password (the key's own, else the PIN) at every use.",
            valueName: "LEVEL"))
    var securityLevel: SecurityLevel = .standard
}

extension SecurityLevel: ExpressibleByArgument {}
