internal import CPKCS11
import CSoftTokenCrypto

/// An AES mechanism (ECB, CBC, CBC_PAD, CTR, GCM) with its parameters taken apart.
struct SymmetricScheme {
    let mode: String
    let padding: Bool
    let iv: [UInt8]
    let aad: [UInt8]
    /// GCM: the tag length in bytes; 0 for the other modes.
    let tagLength: Int

    static func isSymmetric(_ type: CK_MECHANISM_TYPE) -> Bool {
        [CKM.aesECB, CKM.aesCBC, CKM.aesCBCPad, CKM.aesCTR, CKM.aesGCM].contains(type)
    }

    static func parse(_ mechanism: CK_MECHANISM) throws(CKRError) -> SymmetricScheme {
        func bytes(_ pointer: UnsafeMutableRawPointer?, _ count: CK_ULONG) throws(CKRError) -> [UInt8] {
            guard count > 0 else { return [] }
            guard let pointer else { throw CKRError(CKR.mechanismParamInvalid) }
            return Array(UnsafeRawBufferPointer(start: pointer, count: Int(count)))
        }
        let parameter = try bytes(mechanism.pParameter, mechanism.ulParameterLen)
        switch mechanism.mechanism {
        case CKM.aesECB:
            guard parameter.isEmpty else { throw CKRError(CKR.mechanismParamInvalid) }
            return SymmetricScheme(mode: "ECB", padding: false, iv: [], aad: [], tagLength: 0)
        case CKM.aesCBC, CKM.aesCBCPad:
            guard parameter.count == 16 else { throw CKRError(CKR.mechanismParamInvalid) }
            return SymmetricScheme(
                mode: "CBC", padding: mechanism.mechanism == CKM.aesCBCPad, iv: parameter, aad: [], tagLength: 0)
        case CKM.aesCTR:
            guard parameter.count == MemoryLayout<CK_AES_CTR_PARAMS>.size else {
                throw CKRError(CKR.mechanismParamInvalid)
            }
            let params = mechanism.pParameter!.loadUnaligned(as: CK_AES_CTR_PARAMS.self)
            // OpenSSL counts with all 128 bits; a smaller counter differs only where it would wrap.
            guard (1...128).contains(params.ulCounterBits) else { throw CKRError(CKR.mechanismParamInvalid) }
            let counter = withUnsafeBytes(of: params.cb) { Array($0) }
            return SymmetricScheme(mode: "CTR", padding: false, iv: counter, aad: [], tagLength: 0)
        case CKM.aesGCM:
            guard parameter.count == MemoryLayout<CK_GCM_PARAMS>.size else { throw CKRError(CKR.mechanismParamInvalid) }
            let params = mechanism.pParameter!.loadUnaligned(as: CK_GCM_PARAMS.self)
            let tagBits = Int(params.ulTagBits)
            guard (1...256).contains(params.ulIvLen), tagBits % 8 == 0, (12...16).contains(tagBits / 8) else {
                throw CKRError(CKR.mechanismParamInvalid)
            }
            return SymmetricScheme(
                mode: "GCM", padding: false, iv: try bytes(params.pIv, params.ulIvLen),
                aad: try bytes(params.pAAD, params.ulAADLen), tagLength: tagBits / 8)
        default:
            throw CKRError(CKR.mechanismInvalid)
        }
    }

    /// Block modes without padding take only whole blocks.
    var needsWholeBlocks: Bool { (mode == "ECB" || mode == "CBC") && !padding }
}

/// An AES encryption or decryption between its Init and its end: an OpenSSL cipher context.
/// Each step is tried on a copy of the context first, so that a too-small output buffer
/// (CKR_BUFFER_TOO_SMALL) leaves the operation as it was. A GCM decryption gathers the whole
/// ciphertext and gives the plaintext only at the end, once the tag is checked.
final class CipherOperation {
    private var context: UnsafeMutableRawPointer
    let scheme: SymmetricScheme
    let encrypting: Bool
    /// GCM decryption: the ciphertext and tag gathered so far.
    private var gathered: [UInt8] = []
    /// Input bytes taken so far, for the whole-block check of unpadded block modes.
    private var taken = 0

    init(scheme: SymmetricScheme, encrypting: Bool, key: [UInt8]) throws(CKRError) {
        let name = "AES-\(key.count * 8)-\(scheme.mode)"
        guard [16, 24, 32].contains(key.count) else { throw CKRError(CKR.keySizeRange) }
        guard
            let context = cbst_cipher_new(
                name, encrypting ? 1 : 0, key, key.count, scheme.iv, scheme.iv.count,
                scheme.padding ? 1 : 0, scheme.aad, scheme.aad.count)
        else {
            throw CKRError(CKR.mechanismParamInvalid)
        }
        self.context = context
        self.scheme = scheme
        self.encrypting = encrypting
    }

    deinit {
        cbst_cipher_free(context)
        wipe(&gathered)
    }

    private var gcmDecrypt: Bool { scheme.mode == "GCM" && !encrypting }

    /// The exact output of an Update of `count` bytes where OpenSSL's is known beforehand (a
    /// stream mode, or whole blocks that no padding holds back); nil where it is not.
    func exactUpdateSize(_ count: Int) -> Int? {
        switch scheme.mode {
        case "CTR": return count
        case "GCM": return encrypting ? count : nil
        default:
            guard encrypting || !scheme.padding else { return nil }
            return (taken % 16 + count) / 16 * 16
        }
    }

    /// An Update straight into the caller's buffer, which has room for exactUpdateSize(count):
    /// no copy of the context (nothing can fail for want of room) and no copy of the output.
    func update(_ input: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) throws(CKRError) -> Int {
        let n = cbst_cipher_update(context, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count, out)
        guard n >= 0 else { throw CKRError(encrypting ? CKR.dataLenRange : CKR.encryptedDataInvalid) }
        taken += input.count
        return n
    }

    /// One step (`input` through Update, then Final when `final`), computed on a copy of the
    /// context and handed to `deliver`; the copy becomes the state only when `deliver` says
    /// the output was taken (true).
    func step(_ input: UnsafeRawBufferPointer, final: Bool, deliver: ([UInt8]) throws(CKRError) -> Bool)
        throws(CKRError)
    {
        let (output, commit) = try compute(input, final: final)
        if try deliver(output) { commit() }
    }

    private func compute(_ input: UnsafeRawBufferPointer, final: Bool) throws(CKRError) -> ([UInt8], () -> Void) {
        guard let copy = cbst_cipher_copy(context) else { throw CKRError(CKR.deviceMemory) }
        // The copy is freed unless it replaces the context.
        let holder = ContextHolder(copy)
        let bytes = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        if gcmDecrypt {
            let all = gathered + Array(input)
            guard final else { return ([], { self.gathered = all }) }
            guard all.count >= scheme.tagLength else { throw CKRError(CKR.encryptedDataLenRange) }
            let body = all.count - scheme.tagLength
            var out = [UInt8](repeating: 0, count: body + 16)
            let n = cbst_cipher_update(copy, all, body, &out)
            var tag = Array(all[body...])
            guard n >= 0, cbst_cipher_gcm_tag(copy, 0, &tag, tag.count) == 1 else {
                throw CKRError(CKR.encryptedDataInvalid)
            }
            guard cbst_cipher_final(copy, &out[n]) >= 0 else { throw CKRError(CKR.encryptedDataInvalid) }
            return (Array(out[0..<n]), { self.gathered = [] })
        }
        let total = taken + input.count
        if final && scheme.needsWholeBlocks && total % 16 != 0 {
            throw CKRError(encrypting ? CKR.dataLenRange : CKR.encryptedDataLenRange)
        }
        var out = [UInt8](repeating: 0, count: input.count + 32 + scheme.tagLength)
        let n = cbst_cipher_update(copy, bytes, input.count, &out)
        guard n >= 0 else { throw CKRError(encrypting ? CKR.dataLenRange : CKR.encryptedDataInvalid) }
        var length = n
        if final {
            let m = out.withUnsafeMutableBufferPointer { cbst_cipher_final(copy, $0.baseAddress! + n) }
            guard m >= 0 else { throw CKRError(encrypting ? CKR.dataLenRange : CKR.encryptedDataInvalid) }
            length += m
            if scheme.mode == "GCM" {
                var tag = [UInt8](repeating: 0, count: scheme.tagLength)
                guard cbst_cipher_gcm_tag(copy, 1, &tag, tag.count) == 1 else { throw CKRError(CKR.functionFailed) }
                for (i, byte) in tag.enumerated() { out[length + i] = byte }
                length += tag.count
            }
        }
        return (
            Array(out[0..<length]),
            {
                cbst_cipher_free(self.context)
                self.context = holder.take()
                self.taken = total
            }
        )
    }
}

/// Owns a cipher context until it is taken.
private final class ContextHolder {
    private var context: UnsafeMutableRawPointer?
    init(_ context: UnsafeMutableRawPointer) { self.context = context }
    func take() -> UnsafeMutableRawPointer {
        defer { context = nil }
        return context!
    }
    deinit { if let context { cbst_cipher_free(context) } }
}
