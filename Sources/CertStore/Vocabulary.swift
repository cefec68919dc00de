// The two pure values a caller of the store hands in are PKCS11's own types, named here so that
// no caller imports PKCS11. The rest of that layer (modules, slots, sessions, objects) stays out
// of CertStore's public API: a file whose public declarations name PIN or PKCS11URI must import
// PKCS11 `public` (Swift's rule for a public use of an alias); every other file imports it
// `internal`, so there the compiler refuses any PKCS#11 type in a public declaration.
public import PKCS11

/// A PIN or password: a non-copyable byte buffer, wiped when it goes away, never printed
/// (PKCS11's `PIN`).
public typealias PIN = PKCS11.PIN

/// A PKCS#11 URI (RFC 7512) naming tokens and objects (PKCS11's `PKCS11URI`).
public typealias PKCS11URI = PKCS11.PKCS11URI

extension PKCS11URI {
    /// Parses a URI a person gave; a malformed one, or one with a part CertBridge does not
    /// understand, is a usage error.
    public init(parsing text: String) throws(StoreError) {
        do throws(PKCS11Error) { self = try PKCS11URI(text) } catch {
            throw StoreError(error, doing: "reading the URI")
        }
    }
}

/// Wipes a byte array that held a secret (key material, a password, decrypted content).
public func wipe(_ bytes: inout [UInt8]) { PKCS11.wipe(&bytes) }
