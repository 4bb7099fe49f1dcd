"""firmware_images: see DESIGN.md."""
