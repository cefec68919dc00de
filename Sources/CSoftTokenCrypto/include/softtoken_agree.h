// The software token's key agreement (ECDH, ANSI X9.63 KDF) and Edwards-curve signatures
// (Ed25519, Ed448, RFC 8032 pure mode), over OpenSSL 3's libcrypto. Conventions as in
// softtoken_crypto.h: 1 on success and 0 on failure unless said otherwise; caller-owned buffers.
#ifndef CERTBRIDGE_SOFTTOKEN_AGREE_H
#define CERTBRIDGE_SOFTTOKEN_AGREE_H
#include "softtoken_crypto.h"

/// ECDH (SEC 1 §3.3.1) of an EC private key with a peer's point (uncompressed or compressed,
/// on the key's curve), with the cofactor when `cofactor` is 1: the shared secret Z (the x
/// coordinate, padded to the field size). Its length; -2 when the point is not a valid point of
/// the key's curve; -1 on other failures.
long cbst_ecdh(cbst_key *key, int cofactor, const uint8_t *peer, size_t peer_len, uint8_t *out, size_t cap);

/// The ANSI X9.63 KDF (SEC 1 §3.6.1) with OpenSSL's digest `md` ("SHA256") over Z and the
/// shared info, into exactly `out_len` bytes.
int cbst_x963_kdf(const char *md, const uint8_t *z, size_t z_len, const uint8_t *info, size_t info_len,
                  uint8_t *out, size_t out_len);

/// Edwards keys by OpenSSL's name, "ED25519" or "ED448": a new one, or one from its raw private
/// key (RFC 8032 §5.1.5 / §5.2.5, 32 or 57 bytes) or raw public key (32 or 57 bytes).
cbst_key *cbst_generate_edwards(const char *name);
cbst_key *cbst_edwards_private(const char *name, const uint8_t *raw, size_t len);
cbst_key *cbst_edwards_public(const char *name, const uint8_t *raw, size_t len);
/// 25519 or 448 for an Edwards key, else 0.
int cbst_key_edwards(const cbst_key *key);
/// The raw public key (`private_part` 0) or raw private key (1); length or -1; out may be NULL.
long cbst_edwards_raw(const cbst_key *key, int private_part, uint8_t *out, size_t cap);

/// A pure EdDSA signature of the whole message (64 bytes for Ed25519, 114 for Ed448); its
/// length or -1.
long cbst_eddsa_sign(cbst_key *key, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap);
/// 1 valid, 0 invalid, -1 error.
int cbst_eddsa_verify(cbst_key *key, const uint8_t *in, size_t in_len, const uint8_t *sig, size_t sig_len);
#endif
