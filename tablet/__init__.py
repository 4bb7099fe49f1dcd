"""tablet: see DESIGN.md."""
