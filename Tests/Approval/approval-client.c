/*
 * A test-only PKCS#11 client for the approval tests: a program that, like Java's SunPKCS11 or
 * OpenSSH, never does a context-specific login with a PIN of its own.
 *
 *   approval-client MODULE TOKEN_LABEL KEY_LABEL COUNT none|null OUT_PREFIX
 *       logs in (C_Login(CKU_USER) with CB_CLIENT_PIN, or with a NULL PIN when CB_CLIENT_PIN is
 *       unset), then COUNT times: C_SignInit(CKM_SHA256_RSA_PKCS or CKM_ECDSA_SHA256 by key
 *       type), then with "null" C_Login(CKU_CONTEXT_SPECIFIC, NULL), then C_Sign of "message N";
 *       writes each signature to OUT_PREFIX.N and prints "sign N rv=0x.. ms=.." per signature.
 *
 * Exit status: 0 when every signature was made, 1 when one failed, 2 on a setup error.
 * Built by the tests themselves (cc), so it never ships in a product.
 */
#define _GNU_SOURCE
#include "../P11Client/p11-client.h"

int main(int argc, char **argv) {
    if (argc != 7) { fprintf(stderr, "usage: %s MODULE TOKEN KEY COUNT none|null OUT_PREFIX\n", argv[0]); return 2; }
    load_module(argv[1]);
    check("C_Initialize", p11->C_Initialize(NULL));
    CK_SLOT_ID slot = find_slot(argv[2]);
    CK_SESSION_HANDLE session;
    check("C_OpenSession", p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &session));
    const char *pin = getenv("CB_CLIENT_PIN");
    CK_RV rv = p11->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)pin, pin ? strlen(pin) : 0);
    printf("login rv=0x%lx\n", rv);
    fflush(stdout);
    if (rv != CKR_OK) return 1;

    CK_OBJECT_CLASS private_key = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE filter[] = {{CKA_CLASS, &private_key, sizeof private_key}, {CKA_LABEL, argv[3], strlen(argv[3])}};
    CK_OBJECT_HANDLE key;
    CK_ULONG found = 0;
    check("C_FindObjectsInit", p11->C_FindObjectsInit(session, filter, 2));
    check("C_FindObjects", p11->C_FindObjects(session, &key, 1, &found));
    check("C_FindObjectsFinal", p11->C_FindObjectsFinal(session));
    if (found != 1) { fprintf(stderr, "no private key labelled %s\n", argv[3]); return 2; }
    CK_KEY_TYPE type;
    CK_ATTRIBUTE read[] = {{CKA_KEY_TYPE, &type, sizeof type}};
    check("C_GetAttributeValue", p11->C_GetAttributeValue(session, key, read, 1));
    CK_MECHANISM mechanism = {type == CKK_RSA ? CKM_SHA256_RSA_PKCS : CKM_ECDSA_SHA256, NULL, 0};

    long count = atol(argv[4]);
    int context_null = strcmp(argv[5], "null") == 0;
    int failed = 0;
    for (long n = 0; n < count; n++) {
        double start = now_ms();
        char message[64];
        snprintf(message, sizeof message, "message %ld", n);
        unsigned char signature[1024];
        CK_ULONG length = sizeof signature;
        rv = p11->C_SignInit(session, &mechanism, key);
        if (rv == CKR_OK && context_null) rv = p11->C_Login(session, CKU_CONTEXT_SPECIFIC, NULL, 0);
        if (rv == CKR_OK) rv = p11->C_Sign(session, (CK_BYTE_PTR)message, strlen(message), signature, &length);
        printf("sign %ld rv=0x%lx ms=%.1f\n", n, rv, now_ms() - start);
        fflush(stdout);
        if (rv != CKR_OK) {
            failed = 1;
            /* A refused context login leaves the operation: end it before the next one. */
            if (context_null) { CK_ULONG ignored = sizeof signature; p11->C_Sign(session, (CK_BYTE_PTR)"x", 1, NULL, &ignored); }
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s.%ld", argv[6], n);
        FILE *out = fopen(path, "wb");
        if (!out) { perror(path); return 2; }
        fwrite(signature, 1, length, out);
        fclose(out);
    }
    p11->C_Finalize(NULL);
    return failed;
}
