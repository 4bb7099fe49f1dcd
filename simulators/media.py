"""Small media files made on the spot, for the demo's families and the
players' tests: a PNG picture, a WAV tone (stdlib ``wave``), a raw YUV4MPEG2
video (written by hand; libvlc's rawvid demuxer reads it), and an MP4 with
H.264 video and AAC audio, the real videogram format, encoded from those two
by libvlc itself."""

from __future__ import annotations

import math
import struct
import time
import wave
import zlib
from pathlib import Path

import vlc  # type: ignore[import-untyped]


def png(width: int, height: int) -> bytes:
    """A gradient picture as a real PNG file (no imaging library needed)."""
    rows = b"".join(b"\x00" + bytes(
        c for x in range(width) for c in ((x * 255) // width, (y * 255) // height, 150))
        for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def tone_wav(path: Path, seconds: float, frequency: float = 440.0, rate: int = 8000) -> Path:
    """A mono 16-bit sine tone."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * i / rate)))
            for i in range(round(seconds * rate))))
    return path


def y4m_video(path: Path, seconds: float, *, width: int = 64, height: int = 48,
              fps: int = 10) -> Path:
    """Uncompressed 4:2:0 video whose brightness ramps frame by frame."""
    luma, chroma = width * height, (width // 2) * (height // 2)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(round(seconds * fps)):
            f.write(b"FRAME\n")
            f.write(bytes([16 + (i * 7) % 220]) * luma)
            f.write(bytes([128]) * (2 * chroma))
    return path


def mp4_videogram(path: Path, seconds: float, *, timeout: float = 60.0) -> Path:
    """H.264 video with AAC audio in MP4, encoded by libvlc's stream output
    (x264 and avcodec's AAC encoder) from a Y4M video and a WAV tone made
    beside ``path``. Raises RuntimeError if libvlc cannot make it."""
    video = y4m_video(path.with_suffix(".src.y4m"), seconds)
    audio = tone_wav(path.with_suffix(".src.wav"), seconds, 330.0)
    instance = vlc.Instance("--quiet", "--aout=dummy", "--vout=dummy")
    if instance is None:
        raise RuntimeError("libvlc would not start")
    player = instance.media_player_new()
    media = instance.media_new_path(str(video))
    media.add_option(f":input-slave={audio.as_uri()}")
    media.add_option(
        ":sout=#transcode{vcodec=h264,venc=x264{preset=ultrafast,keyint=10},"
        "acodec=mp4a,ab=64,channels=1,samplerate=44100}"
        f":std{{access=file,mux=mp4,dst={path}}}")
    try:
        player.set_media(media)
        player.play()
        deadline = time.monotonic() + timeout
        while player.get_state() not in (vlc.State.Ended, vlc.State.Error):
            if time.monotonic() > deadline:
                raise RuntimeError(f"libvlc did not finish encoding {path} in {timeout} s")
            time.sleep(0.02)
        failed = player.get_state() == vlc.State.Error
    finally:
        player.stop()
        media.release()
        player.release()
        instance.release()
    if failed or not path.exists() or path.stat().st_size == 0:
        raise RuntimeError(f"libvlc could not encode {path} (x264 or the MP4 muxer missing?)")
    video.unlink()
    audio.unlink()
    return path
