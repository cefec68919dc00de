// See softtoken_crypto.h. OpenSSL 3 EVP and provider APIs throughout; EC points are computed
// with EC_POINT (not deprecated), never with the deprecated EC_KEY.
#include "softtoken_crypto.h"
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

void cbst_wipe(void *p, size_t n) { if (p != NULL && n > 0) OPENSSL_cleanse(p, n); }

int cbst_random(uint8_t *out, size_t n) { return RAND_bytes(out, (int)n) == 1; }

int cbst_equal(const uint8_t *a, const uint8_t *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

int cbst_pbkdf2_sha256(const uint8_t *password, size_t password_len, const uint8_t *salt, size_t salt_len,
                       uint32_t iterations, uint8_t *out, size_t out_len) {
    static const char empty = 0;
    return PKCS5_PBKDF2_HMAC(password_len ? (const char *)password : &empty, (int)password_len, salt, (int)salt_len,
                             (int)iterations, EVP_sha256(), (int)out_len, out) == 1;
}

static int gcm(int enc, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
               const uint8_t *in, size_t len, uint8_t *out) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = 0, n = 0;
    if (ctx == NULL) return 0;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1) goto done;
    if (aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) goto done;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + len)) != 1) goto done;
    if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1) goto done;
    if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1) goto done;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + len) != 1) goto done;
    ok = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    if (!ok && !enc) OPENSSL_cleanse(out, len);
    return ok;
}

int cbst_aes256gcm_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                        const uint8_t *in, size_t len, uint8_t *out) {
    return gcm(1, key, nonce, aad, aad_len, in, len, out);
}

int cbst_aes256gcm_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                        const uint8_t *in, size_t len, uint8_t *out) {
    if (len < 16) return 0;
    return gcm(0, key, nonce, aad, aad_len, in, len - 16, out);
}

long cbst_digest(const char *md, const uint8_t *in, size_t len, uint8_t *out) {
    unsigned int n = 0;
    EVP_MD *type = EVP_MD_fetch(NULL, md, NULL);
    if (type == NULL) return -1;
    int ok = EVP_Digest(in, len, out, &n, type, NULL);
    EVP_MD_free(type);
    return ok == 1 ? (long)n : -1;
}

void *cbst_digest_new(const char *md) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return NULL;
    if (EVP_DigestInit_ex2(ctx, EVP_get_digestbyname(md), NULL) != 1) { EVP_MD_CTX_free(ctx); return NULL; }
    return ctx;
}

int cbst_digest_update(void *ctx, const uint8_t *in, size_t len) { return EVP_DigestUpdate(ctx, in, len) == 1; }

long cbst_digest_final(void *ctx, uint8_t *out) {
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex(ctx, out, &n);
    EVP_MD_CTX_free(ctx);
    return ok == 1 ? (long)n : -1;
}

void cbst_digest_free(void *ctx) { EVP_MD_CTX_free(ctx); }

cbst_key *cbst_generate_rsa(unsigned bits, const uint8_t *e, size_t e_len) {
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *exponent = e_len ? BN_bin2bn(e, (int)e_len, NULL) : NULL;
    if (ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1
        && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) == 1
        && (exponent == NULL || EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, exponent) == 1))
        EVP_PKEY_generate(ctx, &key);
    BN_free(exponent);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

cbst_key *cbst_generate_ec(int nid) {
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, nid) == 1)
        EVP_PKEY_generate(ctx, &key);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static EVP_PKEY *from_params(const char *type, int selection, OSSL_PARAM_BLD *bld) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM *params = bld ? OSSL_PARAM_BLD_to_param(bld) : NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &key, selection, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return key;
}

/// Pushes a big-endian integer; the BIGNUMs are kept in `keep` until the params are built.
static int push_bn(OSSL_PARAM_BLD *bld, const char *name, const uint8_t *v, size_t len, BIGNUM **keep) {
    if (v == NULL || len == 0) return 1;
    *keep = BN_secure_new();
    if (*keep == NULL || BN_bin2bn(v, (int)len, *keep) == NULL) return 0;
    return OSSL_PARAM_BLD_push_BN(bld, name, *keep);
}

cbst_key *cbst_rsa_private(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                           const uint8_t *d, size_t d_len, const uint8_t *p, size_t p_len,
                           const uint8_t *q, size_t q_len, const uint8_t *dp, size_t dp_len,
                           const uint8_t *dq, size_t dq_len, const uint8_t *qi, size_t qi_len) {
    BIGNUM *keep[8] = {0};
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    int crt = p_len && q_len && dp_len && dq_len && qi_len;
    if (bld != NULL && n_len && e_len && d_len
        && push_bn(bld, OSSL_PKEY_PARAM_RSA_N, n, n_len, &keep[0])
        && push_bn(bld, OSSL_PKEY_PARAM_RSA_E, e, e_len, &keep[1])
        && push_bn(bld, OSSL_PKEY_PARAM_RSA_D, d, d_len, &keep[2])
        && (!crt || (push_bn(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p, p_len, &keep[3])
                     && push_bn(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q, q_len, &keep[4])
                     && push_bn(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp, dp_len, &keep[5])
                     && push_bn(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq, dq_len, &keep[6])
                     && push_bn(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi, qi_len, &keep[7]))))
        key = from_params("RSA", EVP_PKEY_KEYPAIR, bld);
    OSSL_PARAM_BLD_free(bld);
    for (int i = 0; i < 8; i++) BN_clear_free(keep[i]);
    return key;
}

cbst_key *cbst_rsa_public(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len) {
    BIGNUM *keep[2] = {0};
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld != NULL && n_len && e_len
        && push_bn(bld, OSSL_PKEY_PARAM_RSA_N, n, n_len, &keep[0])
        && push_bn(bld, OSSL_PKEY_PARAM_RSA_E, e, e_len, &keep[1]))
        key = from_params("RSA", EVP_PKEY_PUBLIC_KEY, bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(keep[0]);
    BN_free(keep[1]);
    return key;
}

cbst_key *cbst_ec_private(int nid, const uint8_t *d, size_t d_len) {
    EVP_PKEY *key = NULL;
    EC_GROUP *group = EC_GROUP_new_by_curve_name(nid);
    EC_POINT *point = group ? EC_POINT_new(group) : NULL;
    BIGNUM *scalar = BN_secure_new();
    BN_CTX *bn = BN_CTX_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    uint8_t pub[200];
    size_t pub_len = 0;
    if (point && scalar && bn && bld && d_len && BN_bin2bn(d, (int)d_len, scalar) != NULL && !BN_is_zero(scalar)
        && BN_cmp(scalar, EC_GROUP_get0_order(group)) < 0
        && EC_POINT_mul(group, point, scalar, NULL, NULL, bn) == 1
        && (pub_len = EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof pub, bn)) > 0
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0) == 1
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, scalar) == 1
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len) == 1)
        key = from_params("EC", EVP_PKEY_KEYPAIR, bld);
    OSSL_PARAM_BLD_free(bld);
    BN_CTX_free(bn);
    BN_clear_free(scalar);
    EC_POINT_free(point);
    EC_GROUP_free(group);
    return key;
}

cbst_key *cbst_ec_public(int nid, const uint8_t *point, size_t point_len) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld && point_len
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0) == 1
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len) == 1)
        key = from_params("EC", EVP_PKEY_PUBLIC_KEY, bld);
    OSSL_PARAM_BLD_free(bld);
    return key;
}

long cbst_ecdh_keys(cbst_key *mine, cbst_key *peer, uint8_t *out, size_t cap) {
    size_t len = 0;
    long result = -1;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    if (ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1
        && EVP_PKEY_derive(ctx, NULL, &len) == 1 && len <= cap && EVP_PKEY_derive(ctx, out, &len) == 1)
        result = (long)len;
    EVP_PKEY_CTX_free(ctx);
    return result;
}

int cbst_ec_nid_from_params(const uint8_t *der, size_t len) {
    const unsigned char *p = der;
    ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)len);
    int nid = oid ? OBJ_obj2nid(oid) : 0;
    ASN1_OBJECT_free(oid);
    return nid == NID_undef ? 0 : nid;
}

long cbst_ec_params_for_nid(int nid, uint8_t *out) {
    ASN1_OBJECT *oid = OBJ_nid2obj(nid);
    if (oid == NULL) return -1;
    unsigned char *p = out;
    int n = i2d_ASN1_OBJECT(oid, out ? &p : NULL);
    return n > 0 ? n : -1;
}

int cbst_key_kind(const cbst_key *key) {
    if (EVP_PKEY_is_a(key, "RSA")) return 1;
    if (EVP_PKEY_is_a(key, "EC")) return 2;
    return 0;
}

int cbst_key_ec_nid(const cbst_key *key) {
    char name[80];
    if (!EVP_PKEY_is_a(key, "EC")) return 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, NULL) != 1) return 0;
    int nid = OBJ_sn2nid(name);
    if (nid == NID_undef) nid = EC_curve_nist2nid(name);
    return nid == NID_undef ? 0 : nid;
}

int cbst_key_bits(const cbst_key *key) { return EVP_PKEY_get_bits(key); }

void cbst_key_free(cbst_key *key) { EVP_PKEY_free(key); }

static long copy_out(const uint8_t *v, size_t len, uint8_t *out, size_t cap) {
    if (out == NULL) return (long)len;
    if (cap < len) return -1;
    memcpy(out, v, len);
    return (long)len;
}

long cbst_key_component(const cbst_key *key, const char *name, uint8_t *out, size_t cap) {
    static const struct { const char *ours, *ossl; } names[] = {
        {"n", OSSL_PKEY_PARAM_RSA_N}, {"e", OSSL_PKEY_PARAM_RSA_E}, {"d", OSSL_PKEY_PARAM_RSA_D},
        {"p", OSSL_PKEY_PARAM_RSA_FACTOR1}, {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
        {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1}, {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
        {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}, {"ec_d", OSSL_PKEY_PARAM_PRIV_KEY},
    };
    if (strcmp(name, "spki") == 0) {
        int len = i2d_PUBKEY(key, NULL);
        if (len <= 0) return -1;
        if (out == NULL) return len;
        if (cap < (size_t)len) return -1;
        unsigned char *p = out;
        return i2d_PUBKEY(key, &p);
    }
    if (strcmp(name, "ec_point") == 0) {
        uint8_t point[200];
        size_t len = 0;
        if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point, &len) != 1)
            return -1;
        return copy_out(point, len, out, cap);
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].ours) != 0) continue;
        BIGNUM *bn = NULL;
        if (EVP_PKEY_get_bn_param(key, names[i].ossl, &bn) != 1) return -1;
        int len = BN_num_bytes(bn);
        if (strcmp(name, "ec_d") == 0) len = (EVP_PKEY_get_bits(key) + 7) / 8;
        long result = len;
        if (out != NULL) result = (cap >= (size_t)len && BN_bn2binpad(bn, out, len) == len) ? len : -1;
        BN_clear_free(bn);
        return result;
    }
    return -1;
}

long cbst_key_to_pkcs8(const cbst_key *key, uint8_t *out, size_t cap) {
    PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(key);
    if (info == NULL) return -1;
    long result = -1;
    int len = i2d_PKCS8_PRIV_KEY_INFO(info, NULL);
    if (len > 0 && out == NULL) result = len;
    else if (len > 0 && cap >= (size_t)len) {
        unsigned char *p = out;
        result = i2d_PKCS8_PRIV_KEY_INFO(info, &p);
    }
    PKCS8_PRIV_KEY_INFO_free(info);
    return result;
}

cbst_key *cbst_key_from_pkcs8(const uint8_t *der, size_t len) {
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (info == NULL) return NULL;
    for (const uint8_t *rest = p; rest < der + len; rest++)
        if (*rest != 0) { PKCS8_PRIV_KEY_INFO_free(info); return NULL; }
    EVP_PKEY *key = EVP_PKCS82PKEY(info);
    PKCS8_PRIV_KEY_INFO_free(info);
    return key;
}

long cbst_signature_size(const cbst_key *key) {
    if (EVP_PKEY_is_a(key, "EC")) return 2L * ((EVP_PKEY_get_bits(key) + 7) / 8);
    return EVP_PKEY_get_size(key);
}

/// Sets RSA padding and PSS parameters on a signing, verifying or decryption context.
static int set_rsa_params(EVP_PKEY_CTX *ctx, int padding, const char *pss_md, const char *mgf_md, int salt_len) {
    if (padding == CBST_PAD_PKCS1) return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
    if (padding == CBST_PAD_NONE) return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1;
    if (padding != CBST_PAD_PSS) return 0;
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1
        && (pss_md == NULL || EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbyname(pss_md)) == 1)
        && (mgf_md == NULL || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_get_digestbyname(mgf_md)) == 1)
        && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt_len) == 1;
}

/// One DER INTEGER at *p (a positive one, as ECDSA's r and s are), right-aligned in `half`
/// bytes of `out`; moves *p past it. 1, or 0 when it is not such an integer or does not fit.
static int der_integer_to_raw(const uint8_t **p, const uint8_t *end, uint8_t *out, size_t half) {
    if (end - *p < 2 || (*p)[0] != 0x02 || ((*p)[1] & 0x80)) return 0;
    size_t len = (*p)[1];
    const uint8_t *v = *p + 2;
    if (len == 0 || (size_t)(end - v) < len || (v[0] & 0x80)) return 0;
    *p = v + len;
    while (len > 0 && *v == 0) { v++; len--; }
    if (len > half) return 0;
    memset(out, 0, half - len);
    memcpy(out + half - len, v, len);
    return 1;
}

/// DER ECDSA-Sig-Value to r||s, each padded to `half` bytes. Read in place: the ECDSA_SIG and
/// two BIGNUMs that d2i_ECDSA_SIG would allocate cost a few per cent of a P-256 signature.
static long ecdsa_der_to_raw(const uint8_t *der, size_t len, size_t half, uint8_t *out, size_t cap) {
    if (cap < 2 * half || len < 2 || der[0] != 0x30) return -1;
    const uint8_t *p = der + 2, *end = der + len;
    size_t body = der[1];
    if (body == 0x81) {
        if (len < 3) return -1;
        body = der[2];
        p = der + 3;
    } else if (body & 0x80) {
        return -1;
    }
    if ((size_t)(end - p) != body) return -1;
    if (!der_integer_to_raw(&p, end, out, half) || !der_integer_to_raw(&p, end, out + half, half) || p != end)
        return -1;
    return (long)(2 * half);
}

/// r||s to DER; length or -1.
static int ecdsa_raw_to_der(const uint8_t *raw, size_t len, uint8_t **der) {
    if (len == 0 || len % 2) return -1;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL), *s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
    int n = -1;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) { r = s = NULL; n = i2d_ECDSA_SIG(sig, der); }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return n;
}

long cbst_sign(cbst_key *key, int padding, const char *md, const char *pss_md, const char *mgf_md,
               int salt_len, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap) {
    int ec = EVP_PKEY_is_a(key, "EC");
    size_t half = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8;
    uint8_t der[160];
    uint8_t *target = ec ? der : out;
    size_t len = ec ? sizeof der : cap;
    long result = -1;
    if (md != NULL) {
        EVP_MD_CTX *mctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        if (mctx && EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, key, NULL) == 1
            && (ec || set_rsa_params(pctx, padding, NULL, mgf_md, salt_len))
            && EVP_DigestSign(mctx, target, &len, in, in_len) == 1)
            result = (long)len;
        EVP_MD_CTX_free(mctx);
    } else {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        if (ctx && EVP_PKEY_sign_init(ctx) == 1
            && (ec || set_rsa_params(ctx, padding, pss_md, mgf_md, salt_len))
            && EVP_PKEY_sign(ctx, target, &len, in, in_len) == 1)
            result = (long)len;
        EVP_PKEY_CTX_free(ctx);
    }
    if (ec && result > 0) result = ecdsa_der_to_raw(der, (size_t)result, half, out, cap);
    return result;
}

int cbst_verify(cbst_key *key, int padding, const char *md, const char *pss_md, const char *mgf_md,
                int salt_len, const uint8_t *in, size_t in_len, const uint8_t *sig, size_t sig_len) {
    int ec = EVP_PKEY_is_a(key, "EC");
    uint8_t *der = NULL;
    int result = -1;
    if (ec) {
        if (sig_len != 2 * (size_t)((EVP_PKEY_get_bits(key) + 7) / 8)) return 0;
        int n = ecdsa_raw_to_der(sig, sig_len, &der);
        if (n < 0) return -1;
        sig = der;
        sig_len = (size_t)n;
    }
    if (md != NULL) {
        EVP_MD_CTX *mctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        if (mctx && EVP_DigestVerifyInit_ex(mctx, &pctx, md, NULL, NULL, key, NULL) == 1
            && (ec || set_rsa_params(pctx, padding, NULL, mgf_md, salt_len)))
            result = EVP_DigestVerify(mctx, sig, sig_len, in, in_len) == 1;
        EVP_MD_CTX_free(mctx);
    } else {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        if (ctx && EVP_PKEY_verify_init(ctx) == 1 && (ec || set_rsa_params(ctx, padding, pss_md, mgf_md, salt_len)))
            result = EVP_PKEY_verify(ctx, sig, sig_len, in, in_len) == 1;
        EVP_PKEY_CTX_free(ctx);
    }
    OPENSSL_free(der);
    ERR_clear_error();
    return result;
}

static long rsa_crypt(int decrypt, cbst_key *key, int padding, const char *oaep_md, const char *mgf_md,
                      const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    size_t len = cap;
    long result = -1;
    int ok = ctx && (decrypt ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx)) == 1;
    if (ok && padding == CBST_PAD_OAEP) {
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1
            && EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_get_digestbyname(oaep_md)) == 1
            && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_get_digestbyname(mgf_md)) == 1;
        if (ok && label_len) {
            uint8_t *copy = OPENSSL_memdup(label, label_len);
            ok = copy && EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, (int)label_len) == 1;
            if (!ok) OPENSSL_free(copy);
        }
    } else if (ok) {
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, padding == CBST_PAD_NONE ? RSA_NO_PADDING : RSA_PKCS1_PADDING) == 1;
    }
    if (ok && (decrypt ? EVP_PKEY_decrypt(ctx, out, &len, in, in_len) : EVP_PKEY_encrypt(ctx, out, &len, in, in_len)) == 1)
        result = (long)len;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return result;
}

long cbst_rsa_decrypt(cbst_key *key, int padding, const char *oaep_md, const char *mgf_md,
                      const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap) {
    return rsa_crypt(1, key, padding, oaep_md, mgf_md, label, label_len, in, in_len, out, cap);
}

long cbst_rsa_encrypt(cbst_key *key, int padding, const char *oaep_md, const char *mgf_md,
                      const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap) {
    return rsa_crypt(0, key, padding, oaep_md, mgf_md, label, label_len, in, in_len, out, cap);
}

struct cbst_signer {
    EVP_PKEY_CTX *ctx;
    int ec;
    size_t half;
};

cbst_signer *cbst_signer_new(cbst_key *key, int padding, const char *pss_md, const char *mgf_md, int salt_len) {
    cbst_signer *signer = OPENSSL_zalloc(sizeof *signer);
    if (signer == NULL) return NULL;
    signer->ec = EVP_PKEY_is_a(key, "EC");
    signer->half = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8;
    signer->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (signer->ctx == NULL || EVP_PKEY_sign_init(signer->ctx) != 1
        || (!signer->ec && !set_rsa_params(signer->ctx, padding, pss_md, mgf_md, salt_len))) {
        cbst_signer_free(signer);
        return NULL;
    }
    return signer;
}

long cbst_signer_sign(cbst_signer *signer, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap) {
    uint8_t der[160];
    size_t len = signer->ec ? sizeof der : cap;
    if (EVP_PKEY_sign(signer->ctx, signer->ec ? der : out, &len, in, in_len) != 1) {
        ERR_clear_error();
        return -1;
    }
    return signer->ec ? ecdsa_der_to_raw(der, len, signer->half, out, cap) : (long)len;
}

void cbst_signer_free(cbst_signer *signer) {
    if (signer == NULL) return;
    EVP_PKEY_CTX_free(signer->ctx);
    OPENSSL_free(signer);
}

long cbst_digest_cached(const char *md, const uint8_t *in, size_t len, uint8_t *out) {
    static const char *names[] = {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512"};
    static EVP_MD *fetched[5];
    for (int i = 0; i < 5; i++) {
        if (strcmp(md, names[i]) != 0) continue;
        /* Sessions sign on several threads at once: the first fetch is published atomically
           and a thread that lost the race frees its own. */
        EVP_MD *digest = __atomic_load_n(&fetched[i], __ATOMIC_ACQUIRE);
        if (digest == NULL) {
            EVP_MD *mine = EVP_MD_fetch(NULL, md, NULL);
            if (mine == NULL) return -1;
            EVP_MD *expected = NULL;
            if (__atomic_compare_exchange_n(&fetched[i], &expected, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                digest = mine;
            } else {
                EVP_MD_free(mine);
                digest = expected;
            }
        }
        unsigned int n = 0;
        return EVP_Digest(in, len, out, &n, digest, NULL) == 1 ? (long)n : -1;
    }
    return -1;
}

long cbst_digest_info_prefix(const char *md, const uint8_t **prefix) {
    static const uint8_t sha1[] = {0x30,0x21,0x30,0x09,0x06,0x05,0x2b,0x0e,0x03,0x02,0x1a,0x05,0x00,0x04,0x14};
    static const uint8_t sha224[] = {0x30,0x2d,0x30,0x0d,0x06,0x09,0x60,0x86,0x48,0x01,0x65,0x03,0x04,0x02,0x04,0x05,0x00,0x04,0x1c};
    static const uint8_t sha256[] = {0x30,0x31,0x30,0x0d,0x06,0x09,0x60,0x86,0x48,0x01,0x65,0x03,0x04,0x02,0x01,0x05,0x00,0x04,0x20};
    static const uint8_t sha384[] = {0x30,0x41,0x30,0x0d,0x06,0x09,0x60,0x86,0x48,0x01,0x65,0x03,0x04,0x02,0x02,0x05,0x00,0x04,0x30};
    static const uint8_t sha512[] = {0x30,0x51,0x30,0x0d,0x06,0x09,0x60,0x86,0x48,0x01,0x65,0x03,0x04,0x02,0x03,0x05,0x00,0x04,0x40};
    if (strcmp(md, "SHA1") == 0) { *prefix = sha1; return sizeof sha1; }
    if (strcmp(md, "SHA224") == 0) { *prefix = sha224; return sizeof sha224; }
    if (strcmp(md, "SHA256") == 0) { *prefix = sha256; return sizeof sha256; }
    if (strcmp(md, "SHA384") == 0) { *prefix = sha384; return sizeof sha384; }
    if (strcmp(md, "SHA512") == 0) { *prefix = sha512; return sizeof sha512; }
    return -1;
}

void *cbst_cipher_new(const char *name, int enc, const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                      int pad, const uint8_t *aad, size_t aad_len) {
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, name, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int gcm = cipher != NULL && EVP_CIPHER_get_mode(cipher) == EVP_CIPH_GCM_MODE;
    int ok = cipher != NULL && ctx != NULL && (size_t)EVP_CIPHER_get_key_length(cipher) == key_len
        && EVP_CipherInit_ex2(ctx, cipher, NULL, NULL, enc, NULL) == 1;
    if (ok && gcm) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) == 1;
    else if (ok) ok = (size_t)EVP_CIPHER_CTX_get_iv_length(ctx) == iv_len;
    if (ok) ok = EVP_CipherInit_ex2(ctx, NULL, key, iv_len ? iv : NULL, enc, NULL) == 1;
    if (ok) ok = EVP_CIPHER_CTX_set_padding(ctx, pad) == 1;
    if (ok && gcm && aad_len) {
        int n = 0;
        ok = EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1;
    }
    EVP_CIPHER_free(cipher);
    if (!ok) {
        EVP_CIPHER_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    return ctx;
}

void *cbst_cipher_copy(void *ctx) {
    EVP_CIPHER_CTX *copy = EVP_CIPHER_CTX_new();
    if (copy == NULL || EVP_CIPHER_CTX_copy(copy, ctx) != 1) {
        EVP_CIPHER_CTX_free(copy);
        ERR_clear_error();
        return NULL;
    }
    return copy;
}

long cbst_cipher_update(void *ctx, const uint8_t *in, size_t in_len, uint8_t *out) {
    int n = 0;
    if (in_len == 0) return 0;
    if (EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1) { ERR_clear_error(); return -1; }
    return n;
}

long cbst_cipher_final(void *ctx, uint8_t *out) {
    int n = 0;
    if (EVP_CipherFinal_ex(ctx, out, &n) != 1) { ERR_clear_error(); return -1; }
    return n;
}

int cbst_cipher_gcm_tag(void *ctx, int get, uint8_t *tag, size_t tag_len) {
    int ok = EVP_CIPHER_CTX_ctrl(ctx, get ? EVP_CTRL_GCM_GET_TAG : EVP_CTRL_GCM_SET_TAG, (int)tag_len, tag) == 1;
    ERR_clear_error();
    return ok;
}

void cbst_cipher_free(void *ctx) { EVP_CIPHER_CTX_free(ctx); }

void *cbst_mac_new(const char *mac, const char *param, const uint8_t *key, size_t key_len) {
    EVP_MAC *algorithm = EVP_MAC_fetch(NULL, mac, NULL);
    EVP_MAC_CTX *ctx = algorithm ? EVP_MAC_CTX_new(algorithm) : NULL;
    EVP_MAC_free(algorithm);
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(strcmp(mac, "HMAC") == 0 ? OSSL_MAC_PARAM_DIGEST : OSSL_MAC_PARAM_CIPHER, (char *)param, 0),
        OSSL_PARAM_construct_end(),
    };
    if (ctx == NULL || EVP_MAC_init(ctx, key, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    return ctx;
}

int cbst_mac_update(void *ctx, const uint8_t *in, size_t len) { return len == 0 || EVP_MAC_update(ctx, in, len) == 1; }

long cbst_mac_final(void *ctx, uint8_t *out, size_t cap) {
    size_t len = 0;
    if (EVP_MAC_final(ctx, out, &len, cap) != 1) { ERR_clear_error(); return -1; }
    return (long)len;
}

void cbst_mac_free(void *ctx) { EVP_MAC_CTX_free(ctx); }
