// PKCS12: see DESIGN.md.
