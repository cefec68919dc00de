// The exported C_* symbols of the software token module (see softtoken_exports.c).
#ifndef CERTBRIDGE_SOFTTOKEN_EXPORTS_H
#define CERTBRIDGE_SOFTTOKEN_EXPORTS_H

/// Makes the target non-empty for Swift; the exports are the C_* functions themselves.
int cbst_exports_present(void);
#endif
