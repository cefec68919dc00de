// PKCS#11 types and constants from p11-kit's pkcs11.h (Cryptoki 2.40 + 3.0 interfaces).
// Modules are loaded with dlopen, so nothing is linked here.
#ifndef CERTBRIDGE_CPKCS11_SHIM_H
#define CERTBRIDGE_CPKCS11_SHIM_H
#include "/usr/include/p11-kit-1/p11-kit/pkcs11.h"
#include "certbridge_vendor.h"
#include <dlfcn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

/// Wipes a secret so the compiler cannot elide the store (explicit_bzero).
static inline void cb_wipe(void *p, size_t n) { if (p != NULL && n > 0) explicit_bzero(p, n); }

/// prctl(PR_SET_DUMPABLE, 0): no core dump and no ptrace attach by the same user (prctl is
/// variadic, so Swift cannot call it directly). 0 on success.
static inline int cb_set_nondumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

/// prctl(PR_GET_DUMPABLE): 1 when the process may be dumped.
static inline int cb_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }

/// dlerror() as a stable copy-free pointer; NULL when there is none.
static inline const char *cb_dlerror(void) { return dlerror(); }
#endif
