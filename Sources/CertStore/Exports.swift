// The CLI names tokens and objects with PKCS11's value types (PKCS11URI, PIN, Token); it never
// calls Cryptoki itself, only CertStore.
@_exported import PKCS11
