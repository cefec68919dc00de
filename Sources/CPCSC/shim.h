// PC/SC lite (pcscd's client library).
#ifndef CERTBRIDGE_CPCSC_SHIM_H
#define CERTBRIDGE_CPCSC_SHIM_H
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#include <PCSC/pcsclite.h>
#endif
