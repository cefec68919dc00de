import Crypto
public import PKCS11
import SwiftASN1
import X509
import _CryptoExtras

import struct PKCS12.PKCS12Error
import enum PKCS12.PublicKeyInfo

/// Checks signatures in software, with the semantics of `openssl dgst -verify` /
/// `openssl pkeyutl -verify` (PSS: MGF1 over the same digest, salt as long as the digest). RSA
/// and ECDSA go through swift-crypto; Ed25519 and Ed448 through OpenSSL (PKCS12's
/// `PublicKeyInfo.isValidEdDSASignature`), since swift-certificates reads no Ed448 key.
public enum SignatureVerification {
    /// True when `signature` is a valid `algorithm` signature of `message` under `publicKey`.
    /// An ECDSA signature is read as DER or raw r‖s according to `format`.
    public static func isValid(
        _ signature: [UInt8], of message: [UInt8], algorithm: SignatureAlgorithm,
        format: SignatureFormat = .der, publicKey: TokenPublicKey
    ) throws(StoreError) -> Bool {
        if case .eddsa = algorithm {
            guard case .edwards = publicKey.kind else { throw mismatch(algorithm) }
            do throws(PKCS12Error) {
                return try PublicKeyInfo.isValidEdDSASignature(signature, of: message, publicKeyInfo: publicKey.spki)
            } catch {
                throw StoreError(.failed, "EdDSA verification failed: \(error)")
            }
        }
        guard let publicKey = publicKey.certificateKey else { throw mismatch(algorithm) }
        switch algorithm {
        case .rsaPKCS1(let digest), .rsaPSS(let digest):
            guard let rsa = _RSA.Signing.PublicKey(publicKey) else { throw mismatch(algorithm) }
            let padding: _RSA.Signing.Padding
            if case .rsaPSS = algorithm { padding = .PSS } else { padding = .insecurePKCS1v1_5 }
            let sig = _RSA.Signing.RSASignature(rawRepresentation: signature)
            switch digest {
            case .sha256: return rsa.isValidSignature(sig, for: SHA256.hash(data: message), padding: padding)
            case .sha384: return rsa.isValidSignature(sig, for: SHA384.hash(data: message), padding: padding)
            case .sha512: return rsa.isValidSignature(sig, for: SHA512.hash(data: message), padding: padding)
            }
        case .ecdsa(let digest):
            return try ecdsa(signature, of: message, digest: digest, format: format, publicKey: publicKey)
        case .eddsa:
            throw mismatch(algorithm)  // checked above
        }
    }

    private static func ecdsa(
        _ signature: [UInt8], of message: [UInt8], digest: DigestAlgorithm,
        format: SignatureFormat, publicKey: Certificate.PublicKey
    ) throws(StoreError) -> Bool {
        // The digest may differ from the curve's own.
        func check<Key: NISTPublicKey>(_ key: Key, coordinateBytes: Int) -> Bool {
            do {
                let der = format == .raw ? try ECDSAEncoding.der(fromRaw: signature) : signature
                guard format == .der || signature.count == 2 * coordinateBytes else { return false }
                let sig = try Key.Signature(derRepresentation: der)
                switch digest {
                case .sha256: return key.isValidSignature(sig, for: SHA256.hash(data: message))
                case .sha384: return key.isValidSignature(sig, for: SHA384.hash(data: message))
                case .sha512: return key.isValidSignature(sig, for: SHA512.hash(data: message))
                }
            } catch {
                return false  // unparseable is simply not a valid signature
            }
        }
        if let nist = NISTKey(publicKey) { return check(nist.key, coordinateBytes: nist.coordinateBytes) }
        throw mismatch(.ecdsa(digest))
    }

    private static func mismatch(_ algorithm: SignatureAlgorithm) -> StoreError {
        StoreError(.usage, "the public key does not fit \(algorithm.name)")
    }
}

extension Store {
    /// The public half of a key: from the certificate with the same CKA_ID when there is one
    /// (what relying parties check against), else from the public key object. Certificates and
    /// public key objects are public, so anyone who can write to the token can replace them:
    /// when the token holds the private key (same CKA_ID), the public half found is compared
    /// with the key's own (see `confirm(_:belongsTo:in:token:)`), and a mismatch is an error,
    /// never a key to verify with. The private key is a private object on most tokens, so the
    /// session is logged in when `pin` is given and the token wants it; nothing signs, so a
    /// High or Medium key is not asked for its approval.
    public func publicKey(matching uri: PKCS11URI, pin: PINProvider?) throws(StoreError) -> (
        key: TokenPublicKey, source: String
    ) {
        let token = try token(matching: uri)
        let session = try session(on: token, pin: pin)
        guard let found = try publicKey(in: session, uri: uri, token: token) else {
            throw StoreError(
                .notFound, "no certificate or public key for \(uri.description) on \"\(token.info.label)\"")
        }
        if let key = found.privateKey {
            try confirm(found, belongsTo: key, in: session, token: token)
        }
        return (found.key, found.source)
    }

    private func publicKey(in session: Session, uri: PKCS11URI, token: Token) throws(StoreError) -> FoundPublicKey? {
        var names: [Attribute] = []
        if let label = uri.object { names.append(Attribute(.label, string: label)) }
        if let id = uri.id { names.append(Attribute(.id, bytes: id)) }
        var certificate: [UInt8]?
        var publicObject: Object?
        var privateKey: Object?
        var keyID: [UInt8]?
        do throws(PKCS11Error) {
            // The id ties a key to its certificate; a label alone is only a hint.
            if uri.type != .certificate, uri.type != .publicKey, !names.isEmpty,
                let key = try session.findObjects([Attribute(.privateKey)] + names).first
            {
                privateKey = key
                keyID = try key.attributes([.id]).id
            }
            if keyID?.isEmpty == true { keyID = nil }
            let byID = (keyID ?? uri.id).map { [Attribute(.id, bytes: $0)] } ?? names
            if let cert = try session.findObjects([Attribute(.certificate)] + byID).first {
                let values = try cert.attributes([.value, .id])
                certificate = values[.value]
                if keyID == nil { keyID = values.id }
            }
            if certificate == nil, let object = try session.findObjects([Attribute(.publicKey)] + byID).first {
                publicObject = object
                if keyID == nil { keyID = try object.attributes([.id]).id }
            }
            // Named by its certificate or public key: the private key is the one with its id.
            if privateKey == nil, let keyID, !keyID.isEmpty {
                privateKey = try session.findObjects([Attribute(.privateKey), Attribute(.id, bytes: keyID)]).first
            }
        } catch {
            throw StoreError(error, doing: "reading the public key", token: token)
        }
        if let certificate {
            let spki = try CertificateObject(der: certificate).certificate.publicKeyInfo
            do throws(StoreError) {
                return FoundPublicKey(
                    key: try TokenPublicKey(spki: spki), source: "certificate", id: keyID ?? [], privateKey: privateKey)
            } catch {
                throw StoreError(
                    .failed, "the public key in the certificate for \(uri.description) does not parse: \(error)")
            }
        }
        if let publicObject {
            return FoundPublicKey(
                key: try Self.publicKey(of: publicObject), source: "public key object", id: keyID ?? [],
                privateKey: privateKey)
        }
        return nil
    }

    /// A SubjectPublicKeyInfo as swift-certificates' public key. RSA keys of 1024 bits and more
    /// are taken (swift-crypto's checked initializers stop at 2048), since backups hold them.
    static func publicKey(spki: [UInt8]) throws -> Certificate.PublicKey {
        if let rsa = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: spki) { return Certificate.PublicKey(rsa) }
        return try Certificate.PublicKey(derEncoded: spki)
    }

    /// A public key object's value (CKA_MODULUS/CKA_PUBLIC_EXPONENT, or CKA_EC_PARAMS/CKA_EC_POINT
    /// of a CKK_EC or CKK_EC_EDWARDS key) as a SubjectPublicKeyInfo, built with OpenSSL.
    static func publicKey(of object: Object) throws(StoreError) -> TokenPublicKey {
        let values: AttributeValues
        do throws(PKCS11Error) {
            values = try object.attributes(publicHalfAttributes)
        } catch {
            throw StoreError(error, doing: "reading a public key")
        }
        let spki: [UInt8]?
        do throws(PKCS12Error) {
            switch (values.keyType, values[.modulus], values[.publicExponent], values[.ecParams], values[.ecPoint]) {
            case (.rsa?, let n?, let e?, _, _): spki = try PublicKeyInfo.rsa(modulus: n, publicExponent: e)
            case (.ec?, _, _, let parameters?, let point?):
                spki = try PublicKeyInfo.ec(parameters: parameters, point: point)
            case (.ecEdwards?, _, _, let parameters?, let point?):
                spki = try PublicKeyInfo.edwards(parameters: parameters, point: point)
            default: spki = nil
            }
        } catch {
            throw StoreError(.failed, "the token's public key object does not parse: \(error)")
        }
        guard let spki else {
            throw StoreError(.failed, "the token's public key object is of a kind CertBridge cannot read")
        }
        return try TokenPublicKey(spki: spki)
    }
}
