/*
 * A test-only PKCS#11 module that forwards every call to a real module and records, at the
 * module boundary, the calls the signing protocol is judged by: C_Login (with its user type),
 * C_SignInit, C_Sign, C_OpenSession, C_CloseSession and C_GetAttributeValue (with its object and
 * attribute count), each with the CK_RV the real module gave.
 *
 * The real module is the one compiled in with -DCOUNTING_TARGET="path" (so that tests running
 * in parallel against different modules cannot cross), else CERTBRIDGE_COUNTING_TARGET. The record goes to
 * CERTBRIDGE_COUNTING_LOG if set, else to "<path of this library>.log", so a test that copies
 * the library to its own directory gets its own record even when tests share a process.
 * Nothing secret is written: PIN bytes are never touched, only their length is forwarded.
 *
 * Built by the tests themselves (cc -shared), so it never ships in a product.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "p11-kit/pkcs11.h"

static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST ours;
static char log_path[4096];

static void record(const char *line) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    /* One write per line with O_APPEND: lines from several threads never interleave. */
    ssize_t ignored = write(fd, line, strlen(line));
    (void)ignored;
    close(fd);
}

static CK_RV counting_login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
    CK_RV rv = real->C_Login(session, user, pin, pin_len);
    char line[128];
    snprintf(line, sizeof line, "C_Login session=%lu user=%lu rv=0x%lx\n", session, user, rv);
    record(line);
    return rv;
}

static CK_RV counting_sign_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
    CK_RV rv = real->C_SignInit(session, mechanism, key);
    char line[128];
    snprintf(line, sizeof line, "C_SignInit session=%lu mechanism=0x%lx rv=0x%lx\n", session,
             mechanism ? mechanism->mechanism : (CK_ULONG)-1, rv);
    record(line);
    return rv;
}

static CK_RV counting_sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
    CK_RV rv = real->C_Sign(session, data, data_len, sig, sig_len);
    char line[128];
    snprintf(line, sizeof line, "C_Sign session=%lu query=%d rv=0x%lx\n", session, sig == NULL, rv);
    record(line);
    return rv;
}

static CK_RV counting_open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR session) {
    CK_RV rv = real->C_OpenSession(slot, flags, app, notify, session);
    char line[128];
    snprintf(line, sizeof line, "C_OpenSession slot=%lu session=%lu rv=0x%lx\n", slot, rv == CKR_OK ? *session : 0, rv);
    record(line);
    return rv;
}

static CK_RV counting_close_session(CK_SESSION_HANDLE session) {
    CK_RV rv = real->C_CloseSession(session);
    char line[128];
    snprintf(line, sizeof line, "C_CloseSession session=%lu rv=0x%lx\n", session, rv);
    record(line);
    return rv;
}

static CK_RV counting_get_attribute_value(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR template, CK_ULONG count) {
    CK_RV rv = real->C_GetAttributeValue(session, object, template, count);
    char line[160];
    snprintf(line, sizeof line, "C_GetAttributeValue session=%lu object=%lu count=%lu rv=0x%lx\n", session, object, count, rv);
    record(line);
    return rv;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
    if (list == NULL) return CKR_ARGUMENTS_BAD;
    if (real == NULL) {
#ifdef COUNTING_TARGET
        const char *target = COUNTING_TARGET;
#else
        const char *target = getenv("CERTBRIDGE_COUNTING_TARGET");
#endif
        if (target == NULL) return CKR_GENERAL_ERROR;
        void *handle = dlopen(target, RTLD_NOW | RTLD_LOCAL);
        if (handle == NULL) return CKR_GENERAL_ERROR;
        CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
        if (get == NULL || get(&real) != CKR_OK || real == NULL) return CKR_GENERAL_ERROR;

        const char *path = getenv("CERTBRIDGE_COUNTING_LOG");
        Dl_info self;
        if (path != NULL) {
            snprintf(log_path, sizeof log_path, "%s", path);
        } else if (dladdr((void *)C_GetFunctionList, &self) && self.dli_fname != NULL) {
            snprintf(log_path, sizeof log_path, "%s.log", self.dli_fname);
        } else {
            return CKR_GENERAL_ERROR;
        }
        /* Forward everything by copying the real table; replace only what we record. */
        ours = *real;
        ours.C_GetFunctionList = C_GetFunctionList;
        ours.C_Login = counting_login;
        ours.C_SignInit = counting_sign_init;
        ours.C_Sign = counting_sign;
        ours.C_OpenSession = counting_open_session;
        ours.C_CloseSession = counting_close_session;
        ours.C_GetAttributeValue = counting_get_attribute_value;
    }
    *list = &ours;
    return CKR_OK;
}
