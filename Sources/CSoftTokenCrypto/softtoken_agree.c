// See softtoken_agree.h.
#include "softtoken_agree.h"
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

long cbst_ecdh(cbst_key *key, int cofactor, const uint8_t *peer, size_t peer_len, uint8_t *out, size_t cap) {
    int nid = cbst_key_ec_nid(key);
    if (nid == 0 || peer_len == 0) return nid == 0 ? -1 : -2;
    /* The peer's point is decoded on the key's own curve: one that is not on it fails here. */
    EVP_PKEY *other = cbst_ec_public(nid, peer, peer_len);
    if (other == NULL) { ERR_clear_error(); return -2; }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    long result = -1;
    size_t len = 0;
    if (ctx != NULL && EVP_PKEY_derive_init(ctx) == 1
        && (!cofactor || EVP_PKEY_CTX_set_ecdh_cofactor_mode(ctx, 1) == 1)) {
        if (EVP_PKEY_derive_set_peer_ex(ctx, other, 1) != 1) {
            result = -2;
        } else if (EVP_PKEY_derive(ctx, NULL, &len) == 1 && len <= cap && EVP_PKEY_derive(ctx, out, &len) == 1) {
            result = (long)len;
        }
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(other);
    ERR_clear_error();
    return result;
}

int cbst_x963_kdf(const char *md, const uint8_t *z, size_t z_len, const uint8_t *info, size_t info_len,
                  uint8_t *out, size_t out_len) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (ctx == NULL) return 0;
    OSSL_PARAM params[4];
    int n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, z_len);
    if (info_len) params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[n] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(ctx);
    if (!ok) { OPENSSL_cleanse(out, out_len); ERR_clear_error(); }
    return ok;
}

cbst_key *cbst_generate_edwards(const char *name) {
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
    if (ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1) EVP_PKEY_generate(ctx, &key);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

cbst_key *cbst_edwards_private(const char *name, const uint8_t *raw, size_t len) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key_ex(NULL, name, NULL, raw, len);
    if (key == NULL) ERR_clear_error();
    return key;
}

cbst_key *cbst_edwards_public(const char *name, const uint8_t *raw, size_t len) {
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key_ex(NULL, name, NULL, raw, len);
    if (key == NULL) ERR_clear_error();
    return key;
}

int cbst_key_edwards(const cbst_key *key) {
    if (EVP_PKEY_is_a(key, "ED25519")) return 25519;
    if (EVP_PKEY_is_a(key, "ED448")) return 448;
    return 0;
}

long cbst_edwards_raw(const cbst_key *key, int private_part, uint8_t *out, size_t cap) {
    size_t len = 0;
    int ok = private_part ? EVP_PKEY_get_raw_private_key(key, NULL, &len) : EVP_PKEY_get_raw_public_key(key, NULL, &len);
    if (ok != 1) { ERR_clear_error(); return -1; }
    if (out == NULL) return (long)len;
    if (cap < len) return -1;
    ok = private_part ? EVP_PKEY_get_raw_private_key(key, out, &len) : EVP_PKEY_get_raw_public_key(key, out, &len);
    if (ok != 1) { ERR_clear_error(); return -1; }
    return (long)len;
}

long cbst_eddsa_sign(cbst_key *key, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = cap;
    long result = -1;
    /* EdDSA hashes inside the signature: no digest is named, and the message goes in whole. */
    if (ctx != NULL && EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, key, NULL) == 1
        && EVP_DigestSign(ctx, out, &len, in, in_len) == 1)
        result = (long)len;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return result;
}

int cbst_eddsa_verify(cbst_key *key, const uint8_t *in, size_t in_len, const uint8_t *sig, size_t sig_len) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int result = -1;
    if (ctx != NULL && EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, key, NULL) == 1)
        result = EVP_DigestVerify(ctx, sig, sig_len, in, in_len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return result;
}
