// The software token's key wrapping and RNG seeding calls into libcrypto (see key_wrap.c).
#ifndef CERTBRIDGE_SOFTTOKEN_WRAP_H
#define CERTBRIDGE_SOFTTOKEN_WRAP_H
#include <stddef.h>
#include <stdint.h>

/// AES key wrap: RFC 3394 (`pad` 0, CKM_AES_KEY_WRAP) or RFC 5649 (`pad` 1, CKM_AES_KEY_WRAP_PAD),
/// with the RFC's default IV when `iv_len` is 0 (else 8 bytes for 3394, 4 for 5649). `out` holds
/// in_len + 8 (wrap; rounded up to 8 first for 5649) or in_len (unwrap). The output length, or -1.
long cbst_aes_key_wrap(const uint8_t *key, size_t key_len, int pad, int unwrap, const uint8_t *iv, size_t iv_len,
                       const uint8_t *in, size_t in_len, uint8_t *out);

/// Mixes caller seed material into OpenSSL's random generator (C_SeedRandom); 1 on success.
int cbst_seed_random(const uint8_t *seed, size_t len);
#endif
