// SoftTokenModule: see DESIGN.md.
