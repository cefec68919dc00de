import CertStore
import Foundation

/// The bench token's PINs: a throwaway token in a private directory, never a user's.
let benchUserPIN = Array("1234".utf8)
let benchSOPIN = Array("12345678".utf8)

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("certbridge-bench-sign: \(message)\n".utf8))
    exit(1)
}

/// The EC params (DER OID) of P-256.
let p256Params: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]

/// The keys every signing run uses: label, CKA_ID, and whether the key is High
/// (CKA_ALWAYS_AUTHENTICATE: a context login before each signature).
let benchKeys: [(label: String, id: UInt8, rsa: Bool, high: Bool)] = [
    ("rsa", 1, true, false), ("p256", 2, false, false), ("rsa-high", 3, true, true), ("p256-high", 4, false, true),
]

/// Logs the session in as the user; the login may already be there (it is per token, per process).
func logIn(_ session: Session) throws(PKCS11Error) {
    do throws(PKCS11Error) {
        try session.login(.user, pin: PIN(bytes: benchUserPIN))
    } catch {
        if error.returnValue != .userAlreadyLoggedIn { throw error }
    }
}

/// The token labelled `label`, found again after C_InitToken (slot ids change).
func findToken(_ module: Module, label: String) throws -> Token? {
    try module.slots().compactMap { try? $0.token() }.first { $0.info.label == label }
}

/// Initializes a token in the module's free slot, sets the user PIN, and generates the bench keys
/// (unless BENCH_EMPTY is set).
func setUpToken(modulePath: String, label: String) throws {
    let module = try Module.load(path: modulePath)
    if try findToken(module, label: label) == nil {
        guard let free = try module.slots().first(where: { (try? $0.token().info.flags.contains(.tokenInitialized)) == false }) else { fail("no free slot in \(modulePath)") }
        try free.initializeToken(label: label, soPIN: PIN(bytes: benchSOPIN))
        guard let token = try findToken(module, label: label) else { fail("token \(label) vanished after C_InitToken") }
        let session = try token.openSession(readWrite: true)
        try session.login(.securityOfficer, pin: PIN(bytes: benchSOPIN))
        try session.initializeUserPIN(PIN(bytes: benchUserPIN))
        try session.logout()
    }
    // BENCH_EMPTY: a token without keys (the listing and import rows fill it themselves).
    if ProcessInfo.processInfo.environment["BENCH_EMPTY"] != nil { return }
    guard let token = try findToken(module, label: label) else { fail("no token \(label)") }
    let session = try token.openSession(readWrite: true)
    try logIn(session)
    for key in benchKeys where try session.findObjects([Attribute(.privateKey), Attribute(.id, bytes: [key.id])]).isEmpty {
        let common = [Attribute(.token, true), Attribute(.label, string: key.label), Attribute(.id, bytes: [key.id])]
        let privateFlags = common + [Attribute(.private, true), Attribute(.sign, true), Attribute(.sensitive, true),
                                     Attribute(.extractable, false), Attribute(.alwaysAuthenticate, key.high)]
        if key.rsa {
            _ = try session.generateKeyPair(Mechanism(.rsaPKCSKeyPairGen),
                publicTemplate: common + [Attribute(.modulusBits, ulong: 2048), Attribute(.publicExponent, bytes: [1, 0, 1]), Attribute(.verify, true)],
                privateTemplate: privateFlags)
        } else {
            _ = try session.generateKeyPair(Mechanism(.ecKeyPairGen),
                publicTemplate: common + [Attribute(.ecParams, bytes: p256Params), Attribute(.verify, true)],
                privateTemplate: privateFlags)
        }
    }
    try? session.logout()
}

/// Fills the token up to `count` objects for the listing benchmark: certificate, RSA private
/// key and RSA public key triples sharing a CKA_ID (as a real token holds them), all public
/// (CKA_PRIVATE=false) so both listers see every object without a login. The key material is
/// one generated key, copied; the certificate is `certificateDER` (made by openssl).
func populate(modulePath: String, label: String, count: Int, certificateDER: [UInt8]) throws {
    let module = try Module.load(path: modulePath)
    guard let token = try findToken(module, label: label) else { fail("no token \(label)") }
    let session = try token.openSession(readWrite: true)
    try logIn(session)
    defer { try? session.logout() }
    // One readable key pair to copy the components from; destroyed afterwards.
    let source = try session.generateKeyPair(Mechanism(.rsaPKCSKeyPairGen),
        publicTemplate: [Attribute(.token, false), Attribute(.modulusBits, ulong: 2048), Attribute(.publicExponent, bytes: [1, 0, 1])],
        privateTemplate: [Attribute(.token, false), Attribute(.sensitive, false), Attribute(.extractable, true), Attribute(.sign, true)])
    let parts: [AttributeType] = [.modulus, .publicExponent, .privateExponent, .prime1, .prime2, .exponent1, .exponent2, .coefficient]
    let values = try source.privateKey.attributes(parts)
    let components = parts.compactMap { type in values[type].map { Attribute(type, bytes: $0) } }
    guard components.count == parts.count else { fail("the source key's components are not readable") }
    let publicComponents = components.filter { $0.type == .modulus || $0.type == .publicExponent }
    guard let subject = subjectName(certificateDER) else { fail("cannot find the subject in the certificate") }
    var made = try session.findObjects([Attribute(.token, true)]).count
    var refused: Set<String> = []
    var n = 0
    while made < count {
        n += 1
        let id = withUnsafeBytes(of: UInt32(n).bigEndian) { Array($0) }
        let common = [Attribute(.token, true), Attribute(.private, false), Attribute(.id, bytes: id)]
        let kinds: [(String, [Attribute])] = [
            ("certificate", [Attribute(.certificate), Attribute(.certificateType, ulong: 0), Attribute(.label, string: "cert \(n)"),
                             Attribute(.subject, bytes: subject), Attribute(.value, bytes: certificateDER)]),
            ("private key", [Attribute(.privateKey), Attribute(.rsa), Attribute(.label, string: "key \(n)"), Attribute(.sign, true),
                             Attribute(.sensitive, true), Attribute(.extractable, false)] + components),
            ("public key", [Attribute(.publicKey), Attribute(.rsa), Attribute(.label, string: "key \(n)"), Attribute(.verify, true)] + publicComponents),
        ]
        for (kind, template) in kinds where made < count && !refused.contains(kind) {
            if let error = create(common + template, in: session) {
                // A token may refuse a kind of public object (a private key without CKA_PRIVATE,
                // say): fill the token with the other kinds, and say so.
                FileHandle.standardError.write(Data("certbridge-bench-sign: the token refuses a public \(kind) (\(error)); filling with the other kinds\n".utf8))
                refused.insert(kind)
            } else {
                made += 1
            }
        }
        if refused.count == kinds.count { fail("the token refuses every kind of public object") }
    }
    try? source.privateKey.destroy()
    try? source.publicKey.destroy()
}

/// C_CreateObject, answering its error instead of throwing it.
func create(_ template: [Attribute], in session: Session) -> PKCS11Error? {
    do throws(PKCS11Error) {
        _ = try session.createObject(template)
        return nil
    } catch {
        return error
    }
}

/// The subject Name (DER) of an X.509 certificate, which SoftHSM2 wants as CKA_SUBJECT:
/// Certificate → tbsCertificate → [version], serial, signature, issuer, validity, subject.
func subjectName(_ der: [UInt8]) -> [UInt8]? {
    /// The element at `offset`: its tag, where its contents start, and where it ends.
    func element(at offset: Int) -> (tag: UInt8, contents: Int, end: Int)? {
        guard offset + 2 <= der.count else { return nil }
        var length = Int(der[offset + 1]), start = offset + 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count > 0, count <= 4, start + count <= der.count else { return nil }
            length = der[start..<(start + count)].reduce(0) { $0 << 8 | Int($1) }
            start += count
        }
        guard start + length <= der.count else { return nil }
        return (der[offset], start, start + length)
    }
    guard let certificate = element(at: 0), let tbs = element(at: certificate.contents) else { return nil }
    var offset = tbs.contents
    if let version = element(at: offset), version.tag == 0xA0 { offset = version.end }
    for _ in 0..<4 {  // serial, signature, issuer, validity
        guard let skipped = element(at: offset) else { return nil }
        offset = skipped.end
    }
    guard let subject = element(at: offset) else { return nil }
    return Array(der[offset..<subject.end])
}
