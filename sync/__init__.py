"""sync: see DESIGN.md."""
