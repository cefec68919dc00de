// PC/SC lite (pcscd's client library).
#ifndef CERTBRIDGE_CPCSC_SHIM_H
#define CERTBRIDGE_CPCSC_SHIM_H
#include <winscard.h>  // found through -I/usr/include/PCSC, set on the PCSC target
#endif
