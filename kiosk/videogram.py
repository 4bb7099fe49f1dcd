"""Videograms at the kiosk: played by libvlc (python-vlc) into memory, one
RGBA frame at a time, for the screen to show (no Kivy here). The kiosk's
cache keeps videograms sealed; the player is given the opened bytes, puts
them in an anonymous in-memory file (``memfd_create``) and hands libvlc its
``/proc/self/fd/N`` name, so no plaintext copy ever reaches the disk.

libvlc decodes and scales each frame into this object's buffer through its
video callbacks (``vmem``) on libvlc's own threads; those callbacks only copy
under a lock. The screen asks for :meth:`VideogramPlayer.frame` on its own
clock and draws it. Sound goes to the kiosk's audio output (``--aout=dummy``
where there is none). A file libvlc cannot play ends in the ``error`` state,
never a crash or a hang.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import vlc  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 960, 540  # frames are scaled to this (16:9, letterboxed by libvlc)
OPTIONS: tuple[str, ...] = ("--quiet", "--no-video-title-show", "--no-lua",
                            "--no-metadata-network-access")


class VideogramPlayer:
    """One videogram at a time. Safe to call from any thread; :meth:`close`
    releases libvlc."""

    def __init__(self, options: Sequence[str] = OPTIONS) -> None:
        instance = vlc.Instance(*options)
        if instance is None:
            raise RuntimeError(f"libvlc refused the options {' '.join(options)!r}")
        self._instance: Any = instance
        self._mp: Any = instance.media_player_new()
        self._buffer = ctypes.create_string_buffer(WIDTH * HEIGHT * 4)
        self._lock = threading.Lock()
        self._frames = 0  # frames libvlc has finished
        self._shown = -1
        self._media: Any = None
        self._memory = -1  # the in-memory file of the videogram loaded
        # The callbacks live as long as this player: libvlc may call them until stopped.
        self._lock_cb = vlc.CallbackDecorators.VideoLockCb(self._on_lock)
        self._unlock_cb = vlc.CallbackDecorators.VideoUnlockCb(self._on_unlock)
        self._display_cb = vlc.CallbackDecorators.VideoDisplayCb(self._on_display)
        self._mp.video_set_callbacks(self._lock_cb, self._unlock_cb, self._display_cb, None)
        self._mp.video_set_format("RV32", WIDTH, HEIGHT, WIDTH * 4)

    # -- libvlc's side (its threads) -------------------------------------------------

    def _on_lock(self, opaque: Any, planes: Any) -> Any:
        self._lock.acquire()
        planes[0] = ctypes.cast(self._buffer, ctypes.c_void_p)
        return None

    def _on_unlock(self, opaque: Any, picture: Any, planes: Any) -> None:
        self._frames += 1
        self._lock.release()

    def _on_display(self, opaque: Any, picture: Any) -> None:
        return None

    # -- the screen's side -----------------------------------------------------------

    def play(self, data: bytes) -> None:
        """Start the videogram in ``data`` from the beginning (replacing what
        was playing). Raises OSError if no in-memory file can be made."""
        self.stop()
        self._forget()
        fd = os.memfd_create("videogram", os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except BaseException:
            os.close(fd)
            raise
        self._memory = fd
        self.replay()

    def replay(self) -> None:
        """Start the videogram loaded last from the beginning again."""
        self.stop()
        if self._memory < 0:
            return
        # libvlc opens the in-memory file afresh (its own offset) by this name.
        self._media = self._instance.media_new_path(f"/proc/self/fd/{self._memory}")
        self._mp.set_media(self._media)
        with self._lock:
            self._frames, self._shown = 0, -1
        if self._mp.play() != 0:
            log.warning("libvlc would not start the videogram")

    def _forget(self) -> None:
        if self._memory >= 0:
            os.close(self._memory)
            self._memory = -1

    def toggle_pause(self) -> None:
        self._mp.pause()

    def stop(self) -> None:
        self._mp.stop()
        if self._media is not None:
            self._media.release()
            self._media = None

    def frame(self) -> bytes | None:
        """The newest frame as BGRA bytes (WIDTH x HEIGHT, top row first), or
        None when there is none newer than the last one asked for."""
        with self._lock:
            if self._frames in (self._shown, 0):
                return None
            self._shown = self._frames
            return self._buffer.raw

    @property
    def frames(self) -> int:
        return self._frames

    def state(self) -> str:
        """playing, paused, ended, error, or idle. A file that stopped without
        a single frame is an error (libvlc only says it stopped or ended)."""
        value = self._mp.get_state()
        state = {vlc.State.Playing: "playing", vlc.State.Opening: "playing",
                 vlc.State.Buffering: "playing", vlc.State.Paused: "paused",
                 vlc.State.Ended: "ended", vlc.State.Error: "error"}.get(value, "idle")
        if self._media is not None and self._frames == 0 and state in ("ended", "idle") \
                and value != vlc.State.NothingSpecial:
            return "error"
        return state

    def position(self) -> float:
        """Seconds into the videogram."""
        return max(0.0, self._mp.get_time() / 1000.0)

    def duration(self) -> float | None:
        length = self._mp.get_length()
        return length / 1000.0 if length and length > 0 else None

    def close(self) -> None:
        self.stop()
        self._forget()
        self._mp.release()
        self._instance.release()
