// PKCS#11 types and constants from p11-kit's pkcs11.h (Cryptoki 2.40 + 3.0 interfaces).
// Modules are loaded with dlopen, so nothing is linked here.
#ifndef CERTBRIDGE_CPKCS11_SHIM_H
#define CERTBRIDGE_CPKCS11_SHIM_H
#include <p11-kit/pkcs11.h>
#include <dlfcn.h>
#endif
