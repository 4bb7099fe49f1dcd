"""kiosk: see DESIGN.md."""
