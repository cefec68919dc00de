// PKCS11: see DESIGN.md.
