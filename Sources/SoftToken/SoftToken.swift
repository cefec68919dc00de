// SoftToken: see DESIGN.md.
