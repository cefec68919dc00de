// The software token's crypto, over OpenSSL 3's libcrypto. Kept in C because key assembly,
// ECDSA signature encoding and the EVP parameter calls are macros or many-step dances that read
// plainly only in C. Every function returns 1 on success and 0 on failure unless it says otherwise;
// buffers are caller-owned; nothing here keeps state.
#ifndef CERTBRIDGE_SOFTTOKEN_CRYPTO_H
#define CERTBRIDGE_SOFTTOKEN_CRYPTO_H
#include <stddef.h>
#include <stdint.h>

typedef struct evp_pkey_st cbst_key;

/// Wipes a secret so the compiler cannot elide the store.
void cbst_wipe(void *p, size_t n);
/// Fills `out` from OpenSSL's DRBG.
int cbst_random(uint8_t *out, size_t n);
/// Compares in constant time; 1 when equal.
int cbst_equal(const uint8_t *a, const uint8_t *b, size_t n);

/// PBKDF2-HMAC-SHA256 (PKCS #5 v2.1).
int cbst_pbkdf2_sha256(const uint8_t *password, size_t password_len, const uint8_t *salt, size_t salt_len,
                       uint32_t iterations, uint8_t *out, size_t out_len);
/// AES-256-GCM with a 12-byte nonce and a 16-byte tag appended to the ciphertext (out: len + 16).
int cbst_aes256gcm_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                        const uint8_t *in, size_t len, uint8_t *out);
/// The inverse of cbst_aes256gcm_seal; 0 when the tag does not match (wrong key or damage).
int cbst_aes256gcm_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                        const uint8_t *in, size_t len, uint8_t *out);
/// AES key wrap (RFC 3394 and 5649): see softtoken_wrap.h.

/// Digest names are OpenSSL's ("SHA256"); output length, or -1.
long cbst_digest(const char *md, const uint8_t *in, size_t len, uint8_t *out);
/// Streaming digest: a context that cbst_digest_final frees.
void *cbst_digest_new(const char *md);
int cbst_digest_update(void *ctx, const uint8_t *in, size_t len);
long cbst_digest_final(void *ctx, uint8_t *out);
void cbst_digest_free(void *ctx);

/// Key generation: RSA with the modulus size and public exponent, EC on the curve's OpenSSL NID.
cbst_key *cbst_generate_rsa(unsigned bits, const uint8_t *e, size_t e_len);
cbst_key *cbst_generate_ec(int nid);
/// Keys from PKCS#11 components (big-endian integers; optional CRT parts may be NULL).
cbst_key *cbst_rsa_private(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                           const uint8_t *d, size_t d_len, const uint8_t *p, size_t p_len,
                           const uint8_t *q, size_t q_len, const uint8_t *dp, size_t dp_len,
                           const uint8_t *dq, size_t dq_len, const uint8_t *qi, size_t qi_len);
cbst_key *cbst_rsa_public(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len);
/// An EC private key from its scalar; the public point is computed.
cbst_key *cbst_ec_private(int nid, const uint8_t *d, size_t d_len);
/// An EC public key from its uncompressed or compressed point (octet string contents).
cbst_key *cbst_ec_public(int nid, const uint8_t *point, size_t point_len);
/// ECDH: the shared secret of `mine` (a private EC key) and `peer` (a public one on the same
/// curve) into `out`; its length, or -1.
long cbst_ecdh_keys(cbst_key *mine, cbst_key *peer, uint8_t *out, size_t cap);
/// The curve NID for DER-encoded EC parameters (a named-curve OID), or 0.
int cbst_ec_nid_from_params(const uint8_t *der, size_t len);
/// The DER-encoded named-curve OID for a NID; length or -1 (out may be NULL to ask the length).
long cbst_ec_params_for_nid(int nid, uint8_t *out);
/// The key's curve NID (0 when not EC) and its size in bits.
int cbst_key_ec_nid(const cbst_key *key);
int cbst_key_bits(const cbst_key *key);
/// 1 for RSA, 2 for EC, 0 otherwise.
int cbst_key_kind(const cbst_key *key);
void cbst_key_free(cbst_key *key);

/// Component names: "n", "e", "d", "p", "q", "dp", "dq", "qi" (RSA), "ec_point" (the uncompressed
/// point), "ec_d" (the scalar, padded to the field size), "spki" (the public key's DER
/// SubjectPublicKeyInfo, for CKA_PUBLIC_KEY_INFO). Length or -1; out may be NULL.
long cbst_key_component(const cbst_key *key, const char *name, uint8_t *out, size_t cap);

/// PKCS#8 PrivateKeyInfo DER of a private key; length or -1; out may be NULL.
long cbst_key_to_pkcs8(const cbst_key *key, uint8_t *out, size_t cap);
/// A private key from PKCS#8 PrivateKeyInfo DER (trailing zero padding is tolerated).
cbst_key *cbst_key_from_pkcs8(const uint8_t *der, size_t len);

/// Padding for the RSA calls below.
enum { CBST_PAD_PKCS1 = 1, CBST_PAD_PSS = 2, CBST_PAD_OAEP = 3, CBST_PAD_NONE = 4 };

/// Signs `in`. With md NULL, `in` is what the mechanism signs raw (a DigestInfo for PKCS#1,
/// a hash for PSS and ECDSA); with md set, `in` is the message. ECDSA output is r||s, each
/// padded to the group order size. For PSS, pss_md and mgf_md name the hash and MGF1 hash and
/// salt_len the salt. Returns the signature length, or -1.
long cbst_sign(cbst_key *key, int padding, const char *md, const char *pss_md, const char *mgf_md,
               int salt_len, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap);
/// A signing context kept with a key: one EVP_PKEY_CTX set up once for a padding scheme and
/// reused for every signature (setting one up per signature costs as much as an ECDSA sign).
/// Input is what the scheme signs raw: a DigestInfo (PKCS#1), a hash (PSS, ECDSA).
typedef struct cbst_signer cbst_signer;
cbst_signer *cbst_signer_new(cbst_key *key, int padding, const char *pss_md, const char *mgf_md, int salt_len);
long cbst_signer_sign(cbst_signer *signer, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap);
void cbst_signer_free(cbst_signer *signer);
/// A one-shot digest with the digest fetched once per process; length or -1. Not thread-safe
/// on first use of a name (the token calls it under its lock).
long cbst_digest_cached(const char *md, const uint8_t *in, size_t len, uint8_t *out);
/// The DER DigestInfo prefix of a hash for PKCS#1 v1.5; its length, or -1.
long cbst_digest_info_prefix(const char *md, const uint8_t **prefix);

/// Verifies a signature made as cbst_sign describes; 1 valid, 0 invalid, -1 error.
int cbst_verify(cbst_key *key, int padding, const char *md, const char *pss_md, const char *mgf_md,
                int salt_len, const uint8_t *in, size_t in_len, const uint8_t *sig, size_t sig_len);
/// The signature size for the key (RSA modulus bytes, or 2 × the EC order bytes).
long cbst_signature_size(const cbst_key *key);
/// RSA decryption with PKCS#1 v1.5 or OAEP (oaep_md, mgf_md; label may be NULL). Length or -1.
long cbst_rsa_decrypt(cbst_key *key, int padding, const char *oaep_md, const char *mgf_md,
                      const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len,
                      uint8_t *out, size_t cap);
/// RSA encryption with the public key, as cbst_rsa_decrypt. Length or -1.
long cbst_rsa_encrypt(cbst_key *key, int padding, const char *oaep_md, const char *mgf_md,
                      const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len,
                      uint8_t *out, size_t cap);
/// A symmetric cipher context (EVP_CIPHER_CTX) for `name` ("AES-128-CBC", "AES-256-GCM", ...):
/// `enc` 1 to encrypt, 0 to decrypt; `pad` 1 for PKCS#7 padding; for GCM the IV of any length
/// and the AAD. NULL on failure.
void *cbst_cipher_new(const char *name, int enc, const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                      int pad, const uint8_t *aad, size_t aad_len);
/// A copy of a cipher context, to try a step without changing the original. NULL on failure.
void *cbst_cipher_copy(void *ctx);
/// EVP_CipherUpdate: bytes written to `out` (room for in_len + one block), or -1.
long cbst_cipher_update(void *ctx, const uint8_t *in, size_t in_len, uint8_t *out);
/// EVP_CipherFinal: bytes written to `out` (room for one block), or -1 (bad padding, wrong
/// length, GCM tag mismatch).
long cbst_cipher_final(void *ctx, uint8_t *out);
/// GCM: after an encryption's final, its tag (tag_len bytes) into `tag`; before a decryption's
/// final, the expected tag. 1 or 0.
int cbst_cipher_gcm_tag(void *ctx, int get, uint8_t *tag, size_t tag_len);
void cbst_cipher_free(void *ctx);

/// A MAC context: `mac` "HMAC" with `param` a digest name, or "CMAC" with a cipher name.
/// NULL on failure.
void *cbst_mac_new(const char *mac, const char *param, const uint8_t *key, size_t key_len);
int cbst_mac_update(void *ctx, const uint8_t *in, size_t len);
/// The MAC into `out` (room for `cap`); its length, or -1.
long cbst_mac_final(void *ctx, uint8_t *out, size_t cap);
void cbst_mac_free(void *ctx);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34, a GNU extension Swift's Glibc does not
/// show): every descriptor from `from` up is closed in the spawned child. `actions` is a
/// posix_spawn_file_actions_t. Kept here, with the module's other C, for lack of a second shim target.
int cbst_spawn_closefrom(void *actions, int from);
#endif
