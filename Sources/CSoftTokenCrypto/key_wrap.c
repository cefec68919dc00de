// See softtoken_wrap.h.
#include "softtoken_wrap.h"
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const EVP_CIPHER *wrap_cipher(size_t key_len, int pad) {
    switch (key_len) {
    case 16: return pad ? EVP_aes_128_wrap_pad() : EVP_aes_128_wrap();
    case 24: return pad ? EVP_aes_192_wrap_pad() : EVP_aes_192_wrap();
    case 32: return pad ? EVP_aes_256_wrap_pad() : EVP_aes_256_wrap();
    default: return NULL;
    }
}

long cbst_aes_key_wrap(const uint8_t *key, size_t key_len, int pad, int unwrap, const uint8_t *iv, size_t iv_len,
                       const uint8_t *in, size_t in_len, uint8_t *out) {
    const EVP_CIPHER *cipher = wrap_cipher(key_len, pad);
    if (cipher == NULL || in_len == 0 || in_len > (1u << 30)) return -1;
    if (iv_len == 0) iv = NULL;
    if (iv != NULL && iv_len != (pad ? 4u : 8u)) return -1;
    // RFC 3394 takes whole 64-bit blocks, at least two of them (one for unwrapping: the IV block).
    if (!pad && (in_len % 8 != 0 || in_len < (unwrap ? 24u : 16u))) return -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    long result = -1;
    int n = 0, m = 0;
    if (ctx == NULL) return -1;
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, unwrap ? 0 : 1) == 1
        && EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) == 1
        && EVP_CipherFinal_ex(ctx, out + n, &m) == 1)
        result = n + m;
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return result;
}

int cbst_seed_random(const uint8_t *seed, size_t len) {
    if (len > (1u << 20)) return 0;
    // OpenSSL 3: the bytes go to the primary DRBG as additional input; it stays seeded from the OS.
    RAND_add(seed, (int)len, 0.0);
    return RAND_status() == 1;
}
