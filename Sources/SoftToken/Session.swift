internal import CPKCS11
import Synchronization

/// One open session: its token, whether it may write, and the operations under way.
/// The operations (sign … approvedWrap) are guarded by `lock`; `found` by the provider's
/// shared lock (see SoftTokenProvider); `closed` and `operationsEnded` are atomic, set under
/// the shared lock and read by an operation call under `lock` alone.
final class Session {
    let handle: CK_SESSION_HANDLE
    let slot: CK_SLOT_ID
    let token: Token
    let readWrite: Bool
    /// Held by every operation call on this session.
    let lock = Lock()
    /// A logout or close ended the operations while a call was running here: the next call
    /// drops them before it starts.
    let operationsEnded = Atomic<Bool>(false)
    /// C_CloseSession, C_CloseAllSessions or C_Finalize removed this session: a call that found
    /// it just before is refused (CKR_SESSION_HANDLE_INVALID) once it holds `lock`.
    let closed = Atomic<Bool>(false)

    /// C_FindObjects results not yet handed out.
    var found: [CK_OBJECT_HANDLE]?
    var sign: KeyOperation?
    var verify: KeyOperation?
    var decrypt: KeyOperation?
    var encrypt: KeyOperation?
    var digest: DigestOperation?
    /// A C_DeriveKey on an always-authenticate key, refused for want of its context login and
    /// kept for the next C_DeriveKey with the same key and mechanism (C_DeriveKey has no Init).
    var derive: KeyOperation?
    /// A C_WrapKey refused for want of the key's password: the next context login may approve it.
    var pendingWrap: CK_OBJECT_HANDLE?
    /// The key a context login opened for the next C_WrapKey of that key.
    var approvedWrap: (handle: CK_OBJECT_HANDLE, key: CryptoKey)?

    init(handle: CK_SESSION_HANDLE, slot: CK_SLOT_ID, token: Token, readWrite: Bool) {
        self.handle = handle
        self.slot = slot
        self.token = token
        self.readWrite = readWrite
    }

    /// What an operation of this session does, in the approval prompt's and the audit trail's words.
    func purpose(of operation: KeyOperation) -> String {
        if operation === sign { return "sign" }
        if operation === derive { return "derive a key" }
        if operation === encrypt { return "encrypt" }
        return "decrypt"
    }

    var state: CK_STATE {
        switch token.loggedIn {
        case CKU.so: CKS.rwSO
        case CKU.user: readWrite ? CKS.rwUser : CKS.roUser
        default: readWrite ? CKS.rwPublic : CKS.roPublic
        }
    }

    /// The operation a context-specific login would approve: the one begun last on a key that
    /// needs it.
    var operationAwaitingLogin: KeyOperation? {
        [sign, decrypt, encrypt, derive].compactMap { $0 }.first { $0.needsContextLogin && !$0.approved }
    }

    func endOperations() {
        sign = nil
        verify = nil
        decrypt = nil
        encrypt = nil
        derive = nil
        digest?.cancel()
        digest = nil
        found = nil
        approvedWrap = nil
        pendingWrap = nil
    }
}

/// A sign, verify or decrypt operation between its Init and its end (or a derivation awaiting
/// its context login).
final class KeyOperation {
    let mechanism: CK_MECHANISM_TYPE
    let scheme: SignatureScheme?
    let decryption: Decryption?
    let key: TokenObject
    /// CKA_ALWAYS_AUTHENTICATE: this operation needs C_Login(CKU_CONTEXT_SPECIFIC) first.
    let needsContextLogin: Bool
    var approved = false
    /// The key opened with its own password by the context login, for this operation only.
    var approvedKey: CryptoKey?
    /// The object's key, taken at C_SignInit for a key that needs no context login.
    var preparedKey: CryptoKey?
    /// Input gathered by the *Update calls.
    var data: [UInt8] = []
    /// An AES encryption or decryption's cipher context.
    var cipher: CipherOperation?
    /// An HMAC or CMAC signature's or verification's context.
    var mac: MacOperation?
    /// The longest output (signature or RSA block), known from the public attributes at Init.
    let outputSize: Int

    init(
        mechanism: CK_MECHANISM_TYPE, scheme: SignatureScheme?, decryption: Decryption? = nil, key: TokenObject,
        needsContextLogin: Bool, outputSize: Int = 0
    ) {
        self.mechanism = mechanism
        self.scheme = scheme
        self.decryption = decryption
        self.key = key
        self.needsContextLogin = needsContextLogin
        self.outputSize = outputSize
    }

    deinit { wipe(&data) }
}

/// RSA encryption and decryption parameters.
struct Decryption {
    let padding: Int32
    let oaepDigest: String?
    let mgf: String?
    let label: [UInt8]

    static func parse(_ mechanism: CK_MECHANISM) throws(CKRError) -> Decryption {
        switch mechanism.mechanism {
        case CKM.rsaPKCS:
            return Decryption(padding: 1, oaepDigest: nil, mgf: nil, label: [])
        case CKM.rsaPKCSOAEP:
            guard let parameter = mechanism.pParameter,
                mechanism.ulParameterLen == CK_ULONG(MemoryLayout<CK_RSA_PKCS_OAEP_PARAMS>.size)
            else {
                throw CKRError(CKR.mechanismParamInvalid)
            }
            let params = parameter.loadUnaligned(as: CK_RSA_PKCS_OAEP_PARAMS.self)
            guard let hash = Mechanisms.digestName(params.hashAlg), let mgf = Mechanisms.mgfName(params.mgf) else {
                throw CKRError(CKR.mechanismParamInvalid)
            }
            var label: [UInt8] = []
            if params.source == 1, let data = params.pSourceData, params.ulSourceDataLen > 0 {
                label = Array(UnsafeRawBufferPointer(start: data, count: Int(params.ulSourceDataLen)))
            }
            return Decryption(padding: 3, oaepDigest: hash, mgf: mgf, label: label)
        default:
            throw CKRError(CKR.mechanismInvalid)
        }
    }
}

/// A C_Digest* operation: an OpenSSL digest context.
final class DigestOperation {
    private var context: UnsafeMutableRawPointer?
    let size: Int

    init(name: String, size: Int) throws(CKRError) {
        guard let context = cbstDigestNew(name) else { throw CKRError(CKR.mechanismInvalid) }
        self.context = context
        self.size = size
    }

    func update(_ bytes: UnsafeRawBufferPointer) throws(CKRError) {
        guard let context, cbstDigestUpdate(context, bytes) else { throw CKRError(CKR.functionFailed) }
    }

    func finish() throws(CKRError) -> [UInt8] {
        guard let context else { throw CKRError(CKR.operationNotInitialized) }
        self.context = nil
        return try cbstDigestFinal(context, size: size)
    }

    func cancel() {
        if let context { cbstDigestFree(context) }
        context = nil
    }

    deinit { cancel() }
}
