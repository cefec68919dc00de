import Crypto
import FoundationEssentials
internal import PKCS11
import PKCS12
import _CryptoExtras

extension Store {
    /// Takes an exportable key off its token as PKCS#8 DER, the way the token allows: C_WrapKey
    /// under a one-time AES key that lives only in this session (CKM_AES_KEY_WRAP_PAD, else
    /// CKM_AES_CBC_PAD), unwrapped here in memory; or, where the token offers neither and keeps
    /// the key non-sensitive, by reading its components. The caller wipes the result.
    /// A non-exportable key is refused before anything is asked of the token. A key with its
    /// own password (the software token's High level) comes out only after a context login with
    /// it, which `keyPassword` supplies when the token asks.
    public func extractPrivateKey(_ key: KeyHandle, keyPassword: KeyPasswordSource? = nil) throws(StoreError) -> [UInt8]
    {
        guard key.flags.isExportable else {
            throw StoreError(
                .notExportable,
                "the private key \"\(key.label)\" is marked non-exportable (\(key.flags.exportabilityReason)); it cannot leave the token"
            )
        }
        if key.hasOwnPassword && keyPassword == nil {
            throw StoreError(
                .usage,
                "the key \"\(key.label)\" has its own password, which the token asks before letting it out; give it with --key-password-source"
            )
        }
        // A module that lists neither wrap mechanism (p11-kit remoting drops both) would only
        // answer CKR_MECHANISM_INVALID: read a non-sensitive key instead, or say which mechanism
        // is missing and why, up front.
        let wrapMechanisms: [MechanismType] = [.aesKeyWrapPad, .aesCBCPad]
        if let offered = try? key.token.slot.mechanisms(), !offered.isEmpty,
            !wrapMechanisms.contains(where: offered.contains)
        {
            if key.flags.sensitive == false { return try readPrivateKey(key) }
            throw StoreError.missingMechanism(
                wrapMechanisms, for: "exporting \"\(key.label)\" (wrapping it off the token)", token: key.token)
        }
        var wrapKey = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        defer { wipe(&wrapKey) }
        let session = key.session
        do throws(PKCS11Error) {
            let wrapping = try session.createObject([
                Attribute(.secretKey), Attribute(.aes), Attribute(.token, false), Attribute(.private, true),
                Attribute(.label, string: "certbridge one-time wrapping key"), Attribute(.wrap, true),
                Attribute(.encrypt, false), Attribute(.decrypt, false), Attribute(.sensitive, true),
                Attribute(.extractable, false),
                Attribute(.value, bytes: wrapKey),
            ])
            defer { try? wrapping.destroy() }
            var pkcs8: [UInt8]
            do throws(PKCS11Error) {
                var wrapped: [UInt8]
                do throws(PKCS11Error) {
                    wrapped = try session.wrapKey(Mechanism(.aesKeyWrapPad), wrappingKey: wrapping, key: key.object)
                } catch let error where error.returnValue == .userNotLoggedIn && keyPassword != nil {
                    try approveWithOwnPassword(key, password: keyPassword!)
                    wrapped = try session.wrapKey(Mechanism(.aesKeyWrapPad), wrappingKey: wrapping, key: key.object)
                }
                defer { wipe(&wrapped) }
                pkcs8 = try unwrap { () throws(KeyWrap.Failure) in
                    try KeyWrap.unwrapAESKeyWrapPad(key: wrapKey, wrapped: wrapped)
                }
            } catch let error where Self.cannotWrap(error) {
                let iv = Array(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })
                do {
                    var wrapped = try session.wrapKey(
                        Mechanism(.aesCBCPad, parameter: iv), wrappingKey: wrapping, key: key.object)
                    defer { wipe(&wrapped) }
                    pkcs8 = try unwrap { () throws(KeyWrap.Failure) in
                        try KeyWrap.decryptAESCBCPad(key: wrapKey, iv: iv, ciphertext: wrapped)
                    }
                }
            }
            // Some tokens (SoftHSM2) pad the PKCS#8 with zeros to the wrap block: trim it to its
            // DER length.
            if let length = derLength(pkcs8), length < pkcs8.count {
                let tail = pkcs8.count - length
                pkcs8.withUnsafeMutableBufferPointer { buffer in
                    for i in length..<buffer.count { buffer[i] = 0 }
                }
                pkcs8.removeLast(tail)
            }
            return pkcs8
        } catch  where Self.cannotWrap(error) && key.flags.sensitive == false {
            // No wrapping mechanism at all, but the token shows the key's value.
            return try readPrivateKey(key)
        } catch {
            if error.returnValue == .mechanismInvalid {
                throw StoreError.missingMechanism(
                    wrapMechanisms, for: "exporting \"\(key.label)\" (wrapping it off the token)", token: key.token)
            }
            if error.returnValue == .keyUnextractable {
                throw StoreError(.notExportable, "the token refused to let \"\(key.label)\" out (\(error))")
            }
            if error.returnValue == .keyNotWrappable {
                // SoftHSM2 2.6 wraps RSA and EC keys, not EdDSA ones: the key is exportable, but this token cannot hand it out.
                throw StoreError(
                    .failed,
                    "\"\(key.token.info.label)\" cannot wrap a \(key.keyType.map(keyTypeName) ?? "key of this") key off the token (\(error)); nothing was written: keep the PFX it came from as its backup"
                )
            }
            throw StoreError(
                error, doing: "taking the key \"\(key.label)\" off \"\(key.token.info.label)\"", token: key.token)
        }
    }

    /// The context login that lets a key with its own password out once.
    private func approveWithOwnPassword(_ key: KeyHandle, password: KeyPasswordSource) throws(PKCS11Error) {
        let secret: PIN?
        do throws(StoreError) { secret = try password(key.label) } catch {
            throw PKCS11Error(.returned(.cancel), function: "C_Login", reason: error.reason)
        }
        try key.session.login(.contextSpecific, pin: secret)
    }

    /// The token has no such wrapping mechanism (or no C_WrapKey at all).
    private static func cannotWrap(_ error: PKCS11Error) -> Bool {
        error.returnValue == .mechanismInvalid || error.code == .functionNotSupported
            || error.returnValue == .functionNotSupported
    }

    /// PKCS#8 from the components of a key the token keeps readable (CKA_SENSITIVE=false).
    /// The token already shows these values to anyone logged in; the copies the attribute read
    /// and the key types make are not wiped, the PKCS#8 returned is.
    private func readPrivateKey(_ key: KeyHandle) throws(StoreError) -> [UInt8] {
        let values: AttributeValues
        let types: [AttributeType] =
            key.keyType == .rsa
            ? [.modulus, .publicExponent, .privateExponent, .prime1, .prime2] : [.ecParams, .value]
        do throws(PKCS11Error) {
            values = try key.object.attributes(types)
        } catch {
            throw StoreError(
                error, doing: "reading the key \"\(key.label)\" from \"\(key.token.info.label)\"", token: key.token)
        }
        guard types.allSatisfy({ values[$0] != nil }) else {
            throw StoreError(
                .failed,
                "the token can neither wrap \"\(key.label)\" nor show its components, although it reports CKA_SENSITIVE=false"
            )
        }
        do {
            switch key.keyType {
            case .rsa?:
                let rsa = try _RSA.Signing.PrivateKey(
                    n: values[.modulus]!, e: values[.publicExponent]!, d: values[.privateExponent]!,
                    p: values[.prime1]!, q: values[.prime2]!)
                return Self.pkcs8(rsaPrivateKey: [UInt8](rsa.derRepresentation))
            case .ec? where namedCurves[values[.ecParams]!]?.name == "P-256":
                return [UInt8](try P256.Signing.PrivateKey(rawRepresentation: values[.value]!).derRepresentation)
            case .ec? where namedCurves[values[.ecParams]!]?.name == "P-384":
                return [UInt8](try P384.Signing.PrivateKey(rawRepresentation: values[.value]!).derRepresentation)
            case .ec? where namedCurves[values[.ecParams]!]?.name == "P-521":
                return [UInt8](try P521.Signing.PrivateKey(rawRepresentation: values[.value]!).derRepresentation)
            default:
                throw StoreError(
                    .failed, "CertBridge exports RSA and EC P-256/P-384/P-521 keys; \"\(key.label)\" is another kind")
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.failed, "the components of \"\(key.label)\" do not make a valid key: \(error)")
        }
    }

    /// PrivateKeyInfo (RFC 5208) around a PKCS#1 RSAPrivateKey.
    static func pkcs8(rsaPrivateKey pkcs1: [UInt8]) -> [UInt8] {
        // INTEGER 0, AlgorithmIdentifier { rsaEncryption, NULL }.
        let head: [UInt8] = [
            0x02, 0x01, 0x00, 0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00,
        ]
        func header(_ tag: UInt8, _ length: Int) -> [UInt8] {
            if length < 0x80 { return [tag, UInt8(length)] }
            let bytes = withUnsafeBytes(of: UInt32(length).bigEndian) { Array($0) }.drop { $0 == 0 }
            return [tag, 0x80 | UInt8(bytes.count)] + bytes
        }
        let octets = header(0x04, pkcs1.count)
        var out = header(0x30, head.count + octets.count + pkcs1.count)
        out.reserveCapacity(out.count + head.count + octets.count + pkcs1.count)
        out += head
        out += octets
        out += pkcs1
        return out
    }

    private func unwrap(_ body: () throws(KeyWrap.Failure) -> [UInt8]) throws(PKCS11Error) -> [UInt8] {
        do throws(KeyWrap.Failure) {
            return try body()
        } catch {
            throw PKCS11Error(.returned(.functionFailed), function: "C_WrapKey", reason: error.description)
        }
    }
}

/// The total length of the DER element at the start of `bytes` (tag, length, contents).
func derLength(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 2 else { return nil }
    let first = bytes[1]
    if first & 0x80 == 0 { return 2 + Int(first) }
    let count = Int(first & 0x7F)
    guard count > 0, count <= 4, bytes.count >= 2 + count else { return nil }
    let length = bytes[2..<(2 + count)].reduce(0) { $0 << 8 | Int($1) }
    return 2 + count + length
}
