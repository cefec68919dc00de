/*
 * What the test-only C PKCS#11 clients (Approval/approval-client.c,
 * SoftTokenDriver/softtoken-driver.c) share: the function list, loading a module, failing with
 * "C_Function: rv=0x.." and exit status 2, a monotonic clock, and finding a token by label.
 * Included by path from each client, so `cc` needs no extra -I.
 */
#ifndef CERTBRIDGE_TEST_P11_CLIENT_H
#define CERTBRIDGE_TEST_P11_CLIENT_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "p11-kit/pkcs11.h"

static CK_FUNCTION_LIST_PTR p11;

static void check(const char *function, CK_RV rv) {
    if (rv == CKR_OK) return;
    fprintf(stderr, "%s: rv=0x%lx\n", function, rv);
    exit(2);
}

/* dlopen()s the module and sets p11 from its C_GetFunctionList (not yet C_Initialize'd). */
static void load_module(const char *path) {
    void *library = dlopen(path, RTLD_NOW);
    if (!library) { fprintf(stderr, "dlopen: %s\n", dlerror()); exit(2); }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(library, "C_GetFunctionList");
    if (!get) { fprintf(stderr, "no C_GetFunctionList\n"); exit(2); }
    check("C_GetFunctionList", get(&p11));
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* The slot whose token has this label (blank-padded to 32 bytes in CK_TOKEN_INFO). */
static CK_SLOT_ID find_slot(const char *label) {
    CK_ULONG count = 0;
    CK_SLOT_ID *slots = NULL;
    CK_RV rv;
    /* Other processes make tokens in the same store: the list may grow between the two calls. */
    do {
        check("C_GetSlotList", p11->C_GetSlotList(CK_TRUE, NULL, &count));
        slots = realloc(slots, (count + 1) * sizeof *slots);
        rv = p11->C_GetSlotList(CK_TRUE, slots, &count);
    } while (rv == CKR_BUFFER_TOO_SMALL);
    check("C_GetSlotList", rv);
    char padded[32];
    memset(padded, ' ', sizeof padded);
    memcpy(padded, label, strlen(label) < 32 ? strlen(label) : 32);
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        if (p11->C_GetTokenInfo(slots[i], &info) == CKR_OK && memcmp(info.label, padded, 32) == 0) return slots[i];
    }
    fprintf(stderr, "no token labelled %s\n", label);
    exit(2);
}

#endif
