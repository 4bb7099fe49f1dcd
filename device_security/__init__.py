"""device_security: see DESIGN.md."""
