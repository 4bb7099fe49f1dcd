"""Small real images for upload tests."""

from __future__ import annotations

import struct
import zlib


def png(width: int = 96, height: int = 64, rgb: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A PNG of one colour with a lighter band, that a browser shows."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b""
    for y in range(height):
        colour = bytes(rgb) if y < height * 2 // 3 else bytes((230, 200, 80))
        rows += b"\x00" + colour * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
