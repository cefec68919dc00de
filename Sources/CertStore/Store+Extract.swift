import Crypto
import PKCS11
import PKCS12

extension Store {
    /// Takes an exportable key off its token as PKCS#8 DER, the way the token allows: C_WrapKey
    /// under a one-time AES key that lives only in this session (CKM_AES_KEY_WRAP_PAD, else
    /// CKM_AES_CBC_PAD), unwrapped here in memory. The caller wipes the result.
    /// A non-exportable key is refused before anything is asked of the token. A key with its
    /// own password (the software token's High level) comes out only after a context login with
    /// it, which `keyPassword` supplies when the token asks.
    public func extractPrivateKey(_ key: KeyHandle, keyPassword: KeyPasswordSource? = nil) throws(StoreError) -> [UInt8] {
        guard key.flags.isExportable else {
            throw StoreError(.notExportable, "the private key \"\(key.label)\" is marked non-exportable (\(key.flags.exportabilityReason)); it cannot leave the token")
        }
        guard key.flags.extractable == true else {
            throw StoreError(.notExportable, "the private key \"\(key.label)\" is readable (CKA_SENSITIVE=false) but not wrappable; CertBridge exports only through C_WrapKey")
        }
        if key.hasOwnPassword && keyPassword == nil {
            throw StoreError(.usage, "the key \"\(key.label)\" has its own password, which the token asks before letting it out; give it with --key-password-source")
        }
        // A module that lists neither wrap mechanism (p11-kit remoting drops both) would only
        // answer CKR_MECHANISM_INVALID: say which mechanism is missing and why, up front.
        let wrapMechanisms: [MechanismType] = [.aesKeyWrapPad, .aesCBCPad]
        if let offered = try? key.token.slot.mechanisms(), !offered.isEmpty, !wrapMechanisms.contains(where: offered.contains) {
            throw StoreError.missingMechanism(wrapMechanisms, for: "exporting \"\(key.label)\" (wrapping it off the token)", token: key.token)
        }
        var wrapKey = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        defer { wipe(&wrapKey) }
        let session = key.session
        do throws(PKCS11Error) {
            let wrapping = try session.createObject([
                Attribute(.secretKey), Attribute(.aes), Attribute(.token, false), Attribute(.private, true),
                Attribute(.label, string: "certbridge one-time wrapping key"), Attribute(.wrap, true),
                Attribute(.encrypt, false), Attribute(.decrypt, false), Attribute(.sensitive, true), Attribute(.extractable, false),
                Attribute(.value, bytes: wrapKey)])
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
                pkcs8 = try unwrap { () throws(KeyWrap.Failure) in try KeyWrap.unwrapAESKeyWrapPad(key: wrapKey, wrapped: wrapped) }
            } catch let error where error.returnValue == .mechanismInvalid || error.code == .functionNotSupported {
                let iv = Array(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })
                var wrapped = try session.wrapKey(Mechanism(.aesCBCPad, parameter: iv), wrappingKey: wrapping, key: key.object)
                defer { wipe(&wrapped) }
                pkcs8 = try unwrap { () throws(KeyWrap.Failure) in try KeyWrap.decryptAESCBCPad(key: wrapKey, iv: iv, ciphertext: wrapped) }
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
        } catch {
            if error.returnValue == .mechanismInvalid {
                throw StoreError.missingMechanism(wrapMechanisms, for: "exporting \"\(key.label)\" (wrapping it off the token)", token: key.token)
            }
            if error.returnValue == .keyUnextractable {
                throw StoreError(.notExportable, "the token refused to let \"\(key.label)\" out (\(error))")
            }
            throw StoreError(error, doing: "taking the key \"\(key.label)\" off \"\(key.token.info.label)\"", token: key.token)
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
