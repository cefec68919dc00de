/*
 * A test-only PKCS#11 module that forwards every call to a real module but behaves like a
 * pickier token when a private key is created, the way some PIV modules do:
 *
 *   CERTBRIDGE_PICKY_REFUSE=0x162,...  C_CreateObject of a private key whose template holds one
 *                                      of these attribute types returns CKR_ATTRIBUTE_TYPE_INVALID.
 *   CERTBRIDGE_PICKY_DROP=0x202,...    those attributes are silently left out of the template
 *                                      (a token that ignores what it does not support).
 *   CERTBRIDGE_PICKY_NO_WRAP=1         C_WrapKey returns CKR_MECHANISM_INVALID for every
 *                                      mechanism (a token with no key wrapping).
 *
 * The real module is named by CERTBRIDGE_PICKY_TARGET. Built by the tests (cc -shared), so it
 * never ships in a product.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include "p11-kit/pkcs11.h"

static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST ours;

/* Whether `type` is in the comma-separated list of hex or decimal numbers in variable `name`. */
static int listed(const char *name, CK_ATTRIBUTE_TYPE type) {
    const char *list = getenv(name);
    while (list != NULL && *list != '\0') {
        char *end;
        unsigned long value = strtoul(list, &end, 0);
        if (end == list) return 0;
        if (value == type) return 1;
        list = (*end == ',') ? end + 1 : end;
    }
    return 0;
}

static int is_private_key(CK_ATTRIBUTE_PTR template, CK_ULONG count) {
    for (CK_ULONG i = 0; i < count; i++) {
        if (template[i].type == CKA_CLASS && template[i].ulValueLen == sizeof(CK_OBJECT_CLASS) && template[i].pValue != NULL
            && *(CK_OBJECT_CLASS *)template[i].pValue == CKO_PRIVATE_KEY) return 1;
    }
    return 0;
}

static CK_RV picky_create_object(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR template, CK_ULONG count, CK_OBJECT_HANDLE_PTR object) {
    if (template == NULL || !is_private_key(template, count)) return real->C_CreateObject(session, template, count, object);
    CK_ATTRIBUTE *kept = calloc(count ? count : 1, sizeof(CK_ATTRIBUTE));
    if (kept == NULL) return CKR_HOST_MEMORY;
    CK_ULONG n = 0;
    for (CK_ULONG i = 0; i < count; i++) {
        if (listed("CERTBRIDGE_PICKY_REFUSE", template[i].type)) { free(kept); return CKR_ATTRIBUTE_TYPE_INVALID; }
        if (!listed("CERTBRIDGE_PICKY_DROP", template[i].type)) kept[n++] = template[i];
    }
    CK_RV rv = real->C_CreateObject(session, kept, n, object);
    free(kept);
    return rv;
}

static CK_RV picky_wrap_key(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE wrapping,
                            CK_OBJECT_HANDLE key, CK_BYTE_PTR wrapped, CK_ULONG_PTR wrapped_len) {
    const char *no_wrap = getenv("CERTBRIDGE_PICKY_NO_WRAP");
    if (no_wrap != NULL && strcmp(no_wrap, "1") == 0) return CKR_MECHANISM_INVALID;
    return real->C_WrapKey(session, mechanism, wrapping, key, wrapped, wrapped_len);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
    if (list == NULL) return CKR_ARGUMENTS_BAD;
    if (real == NULL) {
        const char *target = getenv("CERTBRIDGE_PICKY_TARGET");
        if (target == NULL) return CKR_GENERAL_ERROR;
        void *handle = dlopen(target, RTLD_NOW | RTLD_LOCAL);
        if (handle == NULL) return CKR_GENERAL_ERROR;
        CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
        if (get == NULL || get(&real) != CKR_OK || real == NULL) return CKR_GENERAL_ERROR;
        ours = *real;
        ours.C_GetFunctionList = C_GetFunctionList;
        ours.C_CreateObject = picky_create_object;
        ours.C_WrapKey = picky_wrap_key;
    }
    *list = &ours;
    return CKR_OK;
}
