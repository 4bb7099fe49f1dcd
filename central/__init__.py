"""central: see DESIGN.md."""
