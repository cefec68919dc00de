// certbridge-bench-token: the software token's issue-15 rows for scripts/bench, straight over the
// C function list (no CertStore, no Swift in the caller), as a PKCS#11 application would use it.
//
//   certbridge-bench-token threads MODULE TOKEN_LABEL PIN_FILE   P-256 signing, 2 threads on 2 sessions vs 1
//   certbridge-bench-token gcm MODULE TOKEN_LABEL PIN_FILE       AES-256-GCM encryption of 16 KiB blocks
//
// BENCH_COUNT (signatures per thread, default 20000), BENCH_SECONDS (GCM seconds per round,
// default 2) and BENCH_ROUNDS (default 5; the best round counts) set the size. Prints
// "ROW<TAB>name<TAB>ours<TAB>peer" lines; the GCM row's peer (openssl speed) is the script's.
#define CRYPTOKI_GNU 1
#include "/usr/include/p11-kit-1/p11-kit/pkcs11.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct ck_function_list *p11;

static void die(const char *what, ck_rv_t rv) {
    fprintf(stderr, "certbridge-bench-token: %s: CKR 0x%lx\n", what, rv);
    exit(1);
}
#define CALL(what, expr) do { ck_rv_t rv_ = (expr); if (rv_ != CKR_OK) die(what, rv_); } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static long env_long(const char *name, long fallback) {
    const char *v = getenv(name);
    return v && *v ? atol(v) : fallback;
}

/// The module loaded and initialized for threads, the token found by label, the user logged in
/// with the PIN from a file (never from the command line); a session for each of `sessions`.
static void open_token(const char *module, const char *label, const char *pin_file, ck_session_handle_t *sessions, int count) {
    void *lib = dlopen(module, RTLD_NOW);
    if (!lib) { fprintf(stderr, "certbridge-bench-token: %s\n", dlerror()); exit(1); }
    ck_rv_t (*get)(struct ck_function_list **) = (ck_rv_t (*)(struct ck_function_list **))dlsym(lib, "C_GetFunctionList");
    if (!get) die("C_GetFunctionList missing", 0);
    CALL("C_GetFunctionList", get(&p11));
    struct ck_c_initialize_args args = { .flags = CKF_OS_LOCKING_OK };
    CALL("C_Initialize", p11->C_Initialize(&args));
    unsigned long n = 0;
    CALL("C_GetSlotList", p11->C_GetSlotList(1, NULL, &n));
    ck_slot_id_t slots[64];
    if (n > 64) n = 64;
    CALL("C_GetSlotList", p11->C_GetSlotList(1, slots, &n));
    ck_slot_id_t slot = (ck_slot_id_t)-1;
    for (unsigned long i = 0; i < n; i++) {
        struct ck_token_info info;
        if (p11->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
        size_t len = strlen(label);
        if (len <= 32 && memcmp(info.label, label, len) == 0 && (len == 32 || info.label[len] == ' ')) { slot = slots[i]; break; }
    }
    if (slot == (ck_slot_id_t)-1) { fprintf(stderr, "certbridge-bench-token: no token labelled %s\n", label); exit(1); }
    char pin[256] = {0};
    FILE *f = fopen(pin_file, "r");
    if (!f || !fgets(pin, sizeof pin, f)) { fprintf(stderr, "certbridge-bench-token: cannot read %s\n", pin_file); exit(1); }
    fclose(f);
    pin[strcspn(pin, "\r\n")] = 0;
    for (int i = 0; i < count; i++) CALL("C_OpenSession", p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sessions[i]));
    ck_rv_t rv = p11->C_Login(sessions[0], CKU_USER, (unsigned char *)pin, strlen(pin));
    memset(pin, 0, sizeof pin);
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) die("C_Login", rv);
}

// ---------------------------------------------------------------------------------------------
// P-256 signing on one session per thread.

struct signer { ck_session_handle_t session; ck_object_handle_t key; long count; ck_rv_t failed; };

static void *sign_loop(void *arg) {
    struct signer *s = arg;
    unsigned char digest[32], signature[64];
    struct ck_mechanism mechanism = { CKM_ECDSA, NULL, 0 };
    for (long i = 0; i < s->count; i++) {
        memset(digest, (int)(i & 0xFF), sizeof digest);
        unsigned long length = sizeof signature;
        ck_rv_t rv = p11->C_SignInit(s->session, &mechanism, s->key);
        if (rv == CKR_OK) rv = p11->C_Sign(s->session, digest, sizeof digest, signature, &length);
        if (rv != CKR_OK) { s->failed = rv; return NULL; }
    }
    return NULL;
}

/// Wall time for `threads` threads, each signing `count` times on its own session.
static double sign_round(struct signer *signers, int threads) {
    pthread_t ids[2];
    double start = now();
    for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, sign_loop, &signers[i]);
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    double elapsed = now() - start;
    for (int i = 0; i < threads; i++) if (signers[i].failed) die("C_Sign", signers[i].failed);
    return elapsed;
}

static void threads_bench(const char *module, const char *label, const char *pin_file) {
    ck_session_handle_t sessions[2];
    open_token(module, label, pin_file, sessions, 2);
    unsigned char p256[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };
    unsigned char no = 0, yes = 1;
    struct ck_attribute pub[] = { { CKA_EC_PARAMS, p256, sizeof p256 }, { CKA_TOKEN, &no, 1 }, { CKA_VERIFY, &yes, 1 } };
    struct ck_attribute priv[] = { { CKA_TOKEN, &no, 1 }, { CKA_SIGN, &yes, 1 } };
    struct ck_mechanism generate = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    ck_object_handle_t public_key, private_key;
    CALL("C_GenerateKeyPair", p11->C_GenerateKeyPair(sessions[0], &generate, pub, 3, priv, 2, &public_key, &private_key));
    long count = env_long("BENCH_COUNT", 20000), rounds = env_long("BENCH_ROUNDS", 5);
    struct signer signers[2] = { { sessions[0], private_key, count, 0 }, { sessions[1], private_key, count, 0 } };
    sign_round(signers, 2); // warm: both sessions' signing contexts made
    double best_one = 0, best_two = 0;
    for (long r = 0; r < rounds; r++) {
        double one = count / sign_round(signers, 1);
        double two = 2.0 * count / sign_round(signers, 2);
        if (one > best_one) best_one = one;
        if (two > best_two) best_two = two;
    }
    printf("ROW\tP-256 sign/s, 2 threads on 2 sessions vs 1 thread\t%.0f\t%.0f\n", best_two, best_one);
    p11->C_Finalize(NULL);
}

// ---------------------------------------------------------------------------------------------
// AES-256-GCM: one C_EncryptInit, then 16 KiB C_EncryptUpdate calls, as `openssl speed -evp`
// runs EVP_EncryptUpdate over 16 KiB blocks on one context.

static void gcm_bench(const char *module, const char *label, const char *pin_file) {
    ck_session_handle_t session;
    open_token(module, label, pin_file, &session, 1);
    unsigned long length = 32;
    unsigned char no = 0, yes = 1;
    struct ck_attribute template[] = { { CKA_VALUE_LEN, &length, sizeof length }, { CKA_TOKEN, &no, 1 }, { CKA_ENCRYPT, &yes, 1 } };
    struct ck_mechanism keygen = { CKM_AES_KEY_GEN, NULL, 0 };
    ck_object_handle_t key;
    CALL("C_GenerateKey", p11->C_GenerateKey(session, &keygen, template, 3, &key));
    enum { BLOCK = 16384 };
    static unsigned char in[BLOCK], out[BLOCK + 16];
    unsigned char iv[12] = { 1, 2, 3 }, tag[16];
    struct ck_gcm_params params = { iv, sizeof iv, 96, NULL, 0, 128 };
    struct ck_mechanism mechanism = { CKM_AES_GCM, &params, sizeof params };
    double seconds = env_long("BENCH_SECONDS", 2);
    long rounds = env_long("BENCH_ROUNDS", 5);
    double best = 0;
    for (long r = 0; r < rounds; r++) {
        CALL("C_EncryptInit", p11->C_EncryptInit(session, &mechanism, key));
        long blocks = 0;
        double start = now(), elapsed;
        do {
            for (int i = 0; i < 64; i++) {
                unsigned long produced = sizeof out;
                CALL("C_EncryptUpdate", p11->C_EncryptUpdate(session, in, BLOCK, out, &produced));
                if (produced != BLOCK) die("C_EncryptUpdate output length", produced);
            }
            blocks += 64;
            elapsed = now() - start;
        } while (elapsed < seconds);
        unsigned long tail = sizeof tag;
        CALL("C_EncryptFinal", p11->C_EncryptFinal(session, tag, &tail));
        double rate = blocks * (double)BLOCK / elapsed;
        if (rate > best) best = rate;
        iv[11]++;
    }
    printf("ROW\tAES-256-GCM encryption, 16 KiB blocks, bytes/s\t%.0f\n", best);
    p11->C_Finalize(NULL);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: certbridge-bench-token threads|gcm MODULE TOKEN_LABEL PIN_FILE\n");
        return 2;
    }
    if (strcmp(argv[1], "threads") == 0) threads_bench(argv[2], argv[3], argv[4]);
    else if (strcmp(argv[1], "gcm") == 0) gcm_bench(argv[2], argv[3], argv[4]);
    else { fprintf(stderr, "certbridge-bench-token: unknown mode %s\n", argv[1]); return 2; }
    return 0;
}
