import Foundation
import PKCS11

/// The bench token's PINs: a throwaway token in a private directory, never a user's.
let benchUserPIN = Array("1234".utf8)
let benchSOPIN = Array("12345678".utf8)

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("certbridge-bench-sign: \(message)\n".utf8))
    exit(1)
}

/// The EC params (DER OID) of P-256.
let p256Params: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]

/// The EC params (DER OID) of P-384.
let p384Params: [UInt8] = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]

/// The keys every signing run uses: label, CKA_ID, RSA or EC, its size in bits, and whether the
/// key is High (CKA_ALWAYS_AUTHENTICATE: a context login before each signature).
let benchKeys: [(label: String, id: UInt8, rsa: Bool, bits: Int, high: Bool)] = [
    ("rsa", 1, true, 2048, false), ("p256", 2, false, 256, false), ("rsa-high", 3, true, 2048, true),
    ("p256-high", 4, false, 256, true),
    ("rsa3072", 5, true, 3072, false), ("p384", 6, false, 384, false),
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
        guard
            let free = try module.slots().first(where: {
                (try? $0.token().info.flags.contains(.tokenInitialized)) == false
            })
        else { fail("no free slot in \(modulePath)") }
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
    for key in benchKeys
    where try session.findObjects([Attribute(.privateKey), Attribute(.id, bytes: [key.id])]).isEmpty {
        let common = [Attribute(.token, true), Attribute(.label, string: key.label), Attribute(.id, bytes: [key.id])]
        let privateFlags =
            common + [
                Attribute(.private, true), Attribute(.sign, true), Attribute(.sensitive, true),
                Attribute(.extractable, false), Attribute(.alwaysAuthenticate, key.high),
            ]
        if key.rsa {
            _ = try session.generateKeyPair(
                Mechanism(.rsaPKCSKeyPairGen),
                publicTemplate: common + [
                    Attribute(.modulusBits, ulong: UInt(key.bits)), Attribute(.publicExponent, bytes: [1, 0, 1]),
                    Attribute(.verify, true),
                ],
                privateTemplate: privateFlags)
        } else {
            _ = try session.generateKeyPair(
                Mechanism(.ecKeyPairGen),
                publicTemplate: common + [
                    Attribute(.ecParams, bytes: key.bits == 384 ? p384Params : p256Params), Attribute(.verify, true),
                ],
                privateTemplate: privateFlags)
        }
    }
    try? session.logout()
}

/// Fills the token up to `count` objects for the listing and growth rows: certificate, P-256
/// private key and public key triples sharing a CKA_ID (as a real token holds them), the
/// private keys private (CKA_PRIVATE=true, sealed on the software token, so a login has them to
/// open), the rest public. The key material is one generated key, copied; the certificate is
/// `certificateDER` (made by openssl). Objects already there count, so a second run tops up.
func populate(modulePath: String, label: String, count: Int, certificateDER: [UInt8]) throws {
    let module = try Module.load(path: modulePath)
    guard let token = try findToken(module, label: label) else { fail("no token \(label)") }
    let session = try token.openSession(readWrite: true)
    try logIn(session)
    defer { try? session.logout() }
    // One readable key pair (a session object) to copy the components from.
    let source = try session.generateKeyPair(
        Mechanism(.ecKeyPairGen),
        publicTemplate: [Attribute(.token, false), Attribute(.ecParams, bytes: p256Params)],
        privateTemplate: [
            Attribute(.token, false), Attribute(.sensitive, false), Attribute(.extractable, true),
            Attribute(.sign, true),
        ])
    let secret = try source.privateKey.attributes([.value])
    let point = try source.publicKey.attributes([.ecPoint])
    guard let value = secret[.value], let ecPoint = point[.ecPoint] else {
        fail("the source key's components are not readable")
    }
    guard let subject = subjectName(certificateDER) else { fail("cannot find the subject in the certificate") }
    var made = try session.findObjects([Attribute(.token, true)]).count
    var n = made / 3
    while made < count {
        n += 1
        let id = withUnsafeBytes(of: UInt32(n).bigEndian) { Array($0) }
        let common = [Attribute(.token, true), Attribute(.id, bytes: id)]
        let kinds: [[Attribute]] = [
            [
                Attribute(.certificate), Attribute(.private, false), Attribute(.certificateType, ulong: 0),
                Attribute(.label, string: "cert \(n)"),
                Attribute(.subject, bytes: subject), Attribute(.value, bytes: certificateDER),
            ],
            [
                Attribute(.privateKey), Attribute(.private, true), Attribute(.ec),
                Attribute(.label, string: "key \(n)"), Attribute(.sign, true),
                Attribute(.sensitive, true), Attribute(.extractable, false), Attribute(.ecParams, bytes: p256Params),
                Attribute(.value, bytes: value),
            ],
            [
                Attribute(.publicKey), Attribute(.private, false), Attribute(.ec),
                Attribute(.label, string: "key \(n)"), Attribute(.verify, true),
                Attribute(.ecParams, bytes: p256Params), Attribute(.ecPoint, bytes: ecPoint),
            ],
        ]
        for template in kinds where made < count {
            if let error = create(common + template, in: session) {
                fail("C_CreateObject (object \(made + 1)): \(error)")
            }
            made += 1
        }
    }
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
        var length = Int(der[offset + 1])
        var start = offset + 2
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
