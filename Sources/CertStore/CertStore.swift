// CertStore: see DESIGN.md.
