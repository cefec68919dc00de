/*
 * A test-only PKCS#11 client: a second process that loads a module, as any application would,
 * and does one job the software token's tests need from another process.
 *
 *   softtoken-driver MODULE TOKEN_LABEL write PREFIX COUNT private|public
 *       logs in, creates COUNT token data objects labelled PREFIX0, PREFIX1, ... with the value
 *       "value of <label>", and prints each label on its own line once C_CreateObject returned
 *       CKR_OK (so a killed writer has reported exactly what it committed, or less).
 *   softtoken-driver MODULE TOKEN_LABEL list
 *       logs in and prints "label<TAB>value" for every data object it finds.
 *   softtoken-driver MODULE TOKEN_LABEL login
 *       prints "started", then C_Login(CKU_USER) and prints "rv=0x..".
 *   softtoken-driver MODULE TOKEN_LABEL setpin
 *       prints "started", then C_SetPIN from CB_DRIVER_PIN to CB_DRIVER_NEW_PIN (not logged
 *       in: the user's PIN) and prints "rv=0x..".
 *   softtoken-driver MODULE TOKEN_LABEL flags
 *       prints the token's CK_TOKEN_INFO flags as "flags=0x..".
 *   softtoken-driver MODULE TOKEN_LABEL populate PREFIX COUNT
 *       logs in and creates COUNT token objects PREFIX0..COUNT-1 as fast as it can, all
 *       private, readable generic secret keys, each with CKA_ID the 4-byte big-endian number and a 400-byte
 *       value; prints "populated COUNT in S s". For benchmarks (scripts/bench), with
 *       CERTBRIDGE_SOFTTOKEN_FSYNC=0 for throwaway tokens.
 *   softtoken-driver MODULE TOKEN_LABEL timings PREFIX COUNT
 *       for people and scripts/bench, not tests: milliseconds for the open (C_Initialize to
 *       C_GetTokenInfo), the login, the first and later C_FindObjects by class + label and by
 *       class + id over objects PREFIX0..COUNT-1 (as `write` or `populate` make them), a
 *       session open/close, and the peak RSS; one line of `name=value` pairs.
 *
 * The PIN comes from the environment (CB_DRIVER_PIN), never from argv. Errors go to stderr as
 * "C_Function: rv=0x.." with exit status 2.
 *
 * Built by the tests themselves (cc), so it never ships in a product.
 */
#define _GNU_SOURCE
#include "../P11Client/p11-client.h"

static void login(CK_SESSION_HANDLE session) {
    const char *pin = getenv("CB_DRIVER_PIN");
    if (!pin) { fprintf(stderr, "CB_DRIVER_PIN is not set\n"); exit(2); }
    check("C_Login", p11->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)));
}

static int write_objects(CK_SESSION_HANDLE session, const char *prefix, long count, CK_BBOOL private) {
    login(session);
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    for (long n = 0; n < count; n++) {
        char label[128], value[160];
        snprintf(label, sizeof label, "%s%ld", prefix, n);
        snprintf(value, sizeof value, "value of %s", label);
        CK_ATTRIBUTE template[] = {
            {CKA_CLASS, &data, sizeof data}, {CKA_TOKEN, &yes, sizeof yes}, {CKA_PRIVATE, &private, sizeof private},
            {CKA_LABEL, label, strlen(label)}, {CKA_VALUE, value, strlen(value)},
        };
        CK_OBJECT_HANDLE object;
        check("C_CreateObject", p11->C_CreateObject(session, template, 5, &object));
        /* One write(2) per line: a kill never leaves half a label in the pipe. */
        printf("%s\n", label);
        fflush(stdout);
    }
    return 0;
}

static int populate(CK_SESSION_HANDLE session, const char *prefix, long count) {
    login(session);
    /* Generic secret keys, readable (not sensitive): CKA_ID does not apply to data objects, and
       the software token keeps every key private. */
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    char value[400];
    memset(value, 'v', sizeof value);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long n = 0; n < count; n++) {
        char label[128];
        snprintf(label, sizeof label, "%s%ld", prefix, n);
        unsigned char id[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
        CK_ATTRIBUTE template[] = {
            {CKA_CLASS, &secret, sizeof secret}, {CKA_KEY_TYPE, &generic, sizeof generic}, {CKA_TOKEN, &yes, sizeof yes},
            {CKA_PRIVATE, &yes, 1}, {CKA_SENSITIVE, &no, 1}, {CKA_EXTRACTABLE, &yes, 1},
            {CKA_LABEL, label, strlen(label)}, {CKA_ID, id, sizeof id}, {CKA_VALUE, value, sizeof value},
        };
        CK_OBJECT_HANDLE object;
        check("C_CreateObject", p11->C_CreateObject(session, template, sizeof template / sizeof *template, &object));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("populated %ld in %.1f s\n", count, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}

static int list_objects(CK_SESSION_HANDLE session) {
    login(session);
    /* Data objects, and the readable secret keys `populate` makes. */
    CK_OBJECT_CLASS data = CKO_DATA, secret = CKO_SECRET_KEY;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE data_filter[] = {{CKA_CLASS, &data, sizeof data}};
    CK_ATTRIBUTE secret_filter[] = {{CKA_CLASS, &secret, sizeof secret}, {CKA_SENSITIVE, &no, 1}};
    CK_ATTRIBUTE *filters[] = {data_filter, secret_filter};
    CK_ULONG filter_sizes[] = {1, 2};
    CK_OBJECT_HANDLE batch[1024];
    CK_ULONG found;
    CK_OBJECT_HANDLE *all = NULL;
    size_t total = 0;
    for (int f = 0; f < 2; f++) {
        check("C_FindObjectsInit", p11->C_FindObjectsInit(session, filters[f], filter_sizes[f]));
        do {
            check("C_FindObjects", p11->C_FindObjects(session, batch, 1024, &found));
            all = realloc(all, (total + found + 1) * sizeof *all);
            memcpy(all + total, batch, found * sizeof *batch);
            total += found;
        } while (found == 1024);
        check("C_FindObjectsFinal", p11->C_FindObjectsFinal(session));
    }
    for (size_t i = 0; i < total; i++) {
        char label[256], value[512];
        CK_ATTRIBUTE read[] = {{CKA_LABEL, label, sizeof label - 1}, {CKA_VALUE, value, sizeof value - 1}};
        check("C_GetAttributeValue", p11->C_GetAttributeValue(session, all[i], read, 2));
        label[read[0].ulValueLen] = 0;
        value[read[1].ulValueLen] = 0;
        printf("%s\t%s\n", label, value);
    }
    return 0;
}

static long peak_rss_kb(void) {
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (status && fgets(line, sizeof line, status)) if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
    if (status) fclose(status);
    return kb;
}

/* One C_FindObjects with a filter of `n` attributes; the number found (at most 4). */
static CK_ULONG count_found(CK_SESSION_HANDLE session, CK_ATTRIBUTE *filter, CK_ULONG n) {
    CK_OBJECT_HANDLE found[4];
    CK_ULONG count = 0;
    check("C_FindObjectsInit", p11->C_FindObjectsInit(session, filter, n));
    check("C_FindObjects", p11->C_FindObjects(session, found, 4, &count));
    check("C_FindObjectsFinal", p11->C_FindObjectsFinal(session));
    return count;
}

/* One C_FindObjects by label (data objects and `populate`'s keys alike); the number found. */
static CK_ULONG find_one(CK_SESSION_HANDLE session, const char *label) {
    CK_ATTRIBUTE filter[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    return count_found(session, filter, 1);
}

/* One C_FindObjects by class + id (4-byte big-endian n); the number of objects found. */
static CK_ULONG find_by_id(CK_SESSION_HANDLE session, long n) {
    CK_OBJECT_CLASS data = CKO_SECRET_KEY;
    unsigned char id[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
    CK_ATTRIBUTE filter[] = {{CKA_CLASS, &data, sizeof data}, {CKA_ID, id, sizeof id}};
    return count_found(session, filter, 2);
}

static int timings(CK_SLOT_ID slot, CK_SESSION_HANDLE session, double open_ms, const char *prefix, long count) {
    double t = now_ms();
    login(session);
    double login_ms = now_ms() - t;
    char label[128];
    snprintf(label, sizeof label, "%s%ld", prefix, count / 2);
    t = now_ms();
    CK_ULONG first = find_one(session, label);
    double first_ms = now_ms() - t;
    int rounds = 200;
    t = now_ms();
    for (int i = 0; i < rounds; i++) {
        snprintf(label, sizeof label, "%s%ld", prefix, (long)rand() % count);
        if (find_one(session, label) != 1) { fprintf(stderr, "%s not found once\n", label); return 2; }
    }
    double find_ms = (now_ms() - t) / rounds;
    /* By class + id: objects made by `write` carry no id, so none is found there. */
    t = now_ms();
    CK_ULONG by_id = 0;
    for (int i = 0; i < rounds; i++) by_id += find_by_id(session, (long)rand() % count);
    double id_ms = (now_ms() - t) / rounds;
    t = now_ms();
    for (int i = 0; i < 1000; i++) {
        CK_SESSION_HANDLE other;
        check("C_OpenSession", p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &other));
        check("C_CloseSession", p11->C_CloseSession(other));
    }
    double session_ms = (now_ms() - t) / 1000;
    printf("open_ms=%.2f login_ms=%.2f first_find_ms=%.2f first_found=%lu find_label_ms=%.4f find_id_ms=%.4f found_by_id=%lu session_ms=%.4f peak_rss_kb=%ld\n",
           open_ms, login_ms, first_ms, first, find_ms, id_ms, by_id, session_ms, peak_rss_kb());
    return 0;
}

/* Logs in and out `rounds` times, each login finding one object by label: the logins end with
 * C_Logout ("logout") or with the close of the last session ("close", as p11tool does).
 * Prints how many finds found their object. */
static int relogin(CK_SLOT_ID slot, CK_SESSION_HANDLE session, const char *prefix, long count, const char *how) {
    int closing = strcmp(how, "close") == 0, found = 0, rounds = 20;
    for (int i = 0; i < rounds; i++) {
        char label[128];
        snprintf(label, sizeof label, "%s%ld", prefix, (long)rand() % count);
        if (closing && i > 0) {
            check("C_OpenSession", p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session));
        }
        login(session);
        found += find_one(session, label) == 1;
        if (closing) check("C_CloseSession", p11->C_CloseSession(session));
        else check("C_Logout", p11->C_Logout(session));
    }
    if (closing) check("C_OpenSession", p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session));
    printf("found=%d of %d\n", found, rounds);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s MODULE TOKEN_LABEL write|list|login|flags ...\n", argv[0]); return 2; }
    load_module(argv[1]);
    double started = now_ms();
    check("C_Initialize", p11->C_Initialize(NULL));
    CK_SLOT_ID slot = find_slot(argv[2]);
    double open_ms = now_ms() - started;
    const char *command = argv[3];
    if (strcmp(command, "flags") == 0) {
        CK_TOKEN_INFO info;
        check("C_GetTokenInfo", p11->C_GetTokenInfo(slot, &info));
        printf("flags=0x%lx\n", info.flags);
        return 0;
    }
    CK_SESSION_HANDLE session;
    check("C_OpenSession", p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session));
    int status = 2;
    if (strcmp(command, "write") == 0 && argc == 7) {
        status = write_objects(session, argv[4], atol(argv[5]), strcmp(argv[6], "private") == 0);
    } else if (strcmp(command, "populate") == 0 && argc == 6) {
        status = populate(session, argv[4], atol(argv[5]));
    } else if (strcmp(command, "timings") == 0 && argc == 6) {
        status = timings(slot, session, open_ms, argv[4], atol(argv[5]));
    } else if (strcmp(command, "relogin") == 0 && argc == 7) {
        status = relogin(slot, session, argv[4], atol(argv[5]), argv[6]);
    } else if (strcmp(command, "list") == 0) {
        status = list_objects(session);
    } else if (strcmp(command, "setpin") == 0) {
        const char *pin = getenv("CB_DRIVER_PIN"), *fresh = getenv("CB_DRIVER_NEW_PIN");
        if (!pin || !fresh) { fprintf(stderr, "CB_DRIVER_PIN or CB_DRIVER_NEW_PIN is not set\n"); return 2; }
        printf("started\n");
        fflush(stdout);
        CK_RV rv = p11->C_SetPIN(session, (CK_UTF8CHAR_PTR)pin, strlen(pin), (CK_UTF8CHAR_PTR)fresh, strlen(fresh));
        printf("rv=0x%lx\n", rv);
        status = rv == CKR_OK ? 0 : 1;
    } else if (strcmp(command, "login") == 0) {
        const char *pin = getenv("CB_DRIVER_PIN");
        if (!pin) { fprintf(stderr, "CB_DRIVER_PIN is not set\n"); return 2; }
        printf("started\n");
        fflush(stdout);
        CK_RV rv = p11->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
        printf("rv=0x%lx\n", rv);
        status = 0;
    } else {
        fprintf(stderr, "unknown command %s\n", command);
    }
    p11->C_CloseSession(session);
    p11->C_Finalize(NULL);
    return status;
}
