// CertBridge's vendor-defined PKCS#11 values: the one definition that the Swift targets (through
// CPKCS11's shim.h) and the C test helpers include. The vendor range starts at 0x80000000
// (CKA_VENDOR_DEFINED, CKO_VENDOR_DEFINED); 0x4342 is "CB".
#ifndef CERTBRIDGE_VENDOR_H
#define CERTBRIDGE_VENDOR_H

/// Write-only, in a creation template only: the High-level key's own password. The token seals
/// the key under it and never stores or returns it.
#define CKA_CERTBRIDGE_KEY_PASSWORD 0xC3420001UL
/// Read-only CK_BBOOL: whether the key has its own password.
#define CKA_CERTBRIDGE_HAS_KEY_PASSWORD 0xC3420002UL
/// CK_ULONG, fixed at creation: the approval every use needs (CKA_CERTBRIDGE_APPROVAL_*).
#define CKA_CERTBRIDGE_APPROVAL 0xC3420003UL
/// Read-only CK_ULONG: wrong key passwords left before the key locks.
#define CKA_CERTBRIDGE_TRIES_LEFT 0xC3420004UL
/// Write-only (C_SetAttributeValue): the SO PIN, which unlocks a key locked by wrong passwords.
#define CKA_CERTBRIDGE_UNLOCK_WITH_SO_PIN 0xC3420005UL
/// Read-only CK_ULONG, on the integrity report object: how many objects failed their check.
#define CKA_CERTBRIDGE_INTEGRITY_FAILURES 0xC3420006UL
/// Internal to the software token, never returned: the key material as stored, and the
/// material sealed under the key's own password.
#define CKA_CERTBRIDGE_MATERIAL 0xC34200F0UL
#define CKA_CERTBRIDGE_SEALED_MATERIAL 0xC34200F1UL

/// Values of CKA_CERTBRIDGE_APPROVAL: none (Windows "Low"), a yes/no confirmation ("Medium"),
/// a password ("High").
#define CKA_CERTBRIDGE_APPROVAL_NONE 0UL
#define CKA_CERTBRIDGE_APPROVAL_CONFIRM 1UL
#define CKA_CERTBRIDGE_APPROVAL_PASSWORD 2UL

/// The software token's integrity report: found only by asking for this class; its CKA_LABEL
/// gives the reasons, one per line.
#define CKO_CERTBRIDGE_INTEGRITY_REPORT 0xC3420001UL

#endif
