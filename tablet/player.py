"""The tablet's media player: purchased songs and albums, music videos and
videograms, played through libvlc (python-vlc).

The player keeps its own queue (a :class:`Playlist` and the index of the track
playing) and its own small state machine (:class:`PlayerState`), so that the
screen sees one coherent status whatever libvlc is doing between two tracks.
libvlc reports through per-track event callbacks; those callbacks only put a
note on a queue, so libvlc's threads are never blocked and never re-entered.
One named worker thread (``sallyport-player``) reads that queue, moves on to
the next track when one ends, and calls the screen's ``on_change`` with a
:class:`PlayerStatus` snapshot. The screen hops to Kivy's ``Clock`` itself.

A track is a file, or a :class:`MediaSource`: bytes that never reach the
disk in the clear (the tablet's sealed blobs), which libvlc reads through
its media callbacks, opening, reading and seeking a file-like object that
decrypts as it goes.

A file that is missing, unreadable, empty, not a regular file, or holds
nothing libvlc can play puts the player in the ``error`` state with a
message (so does a source that will not open); it never raises out of the
player or hangs it.
"""

from __future__ import annotations

import ctypes
import enum
import io
import itertools
import logging
import math
import os
import queue
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, runtime_checkable

import vlc  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

# libvlc options on the tablet: no title over videos, no Lua extensions or
# playlist scripts, no metadata fetched from the network, libvlc's own log quiet.
TABLET_OPTIONS: tuple[str, ...] = (
    "--quiet",
    "--no-video-title-show",
    "--no-lua",
    "--no-metadata-network-access",
)

Kind = Literal["song", "video"]
KINDS: tuple[Kind, ...] = ("song", "video")

MIN_VOLUME = 0
MAX_VOLUME = 100
DEFAULT_VOLUME = 80


class PlayerError(Exception):
    """libvlc could not be started with the given options, or the player was
    used after :meth:`Player.close`. A track that cannot be played is no
    exception: it is the ``error`` state, with a message."""


class PlayerState(enum.StrEnum):
    IDLE = "idle"  # nothing loaded (new, or stopped)
    PLAYING = "playing"  # a track is playing (or opening)
    PAUSED = "paused"
    ENDED = "ended"  # the last track of the playlist finished
    ERROR = "error"  # the current track could not be played; see ``error``


@runtime_checkable
class MediaSource(Protocol):
    """A track's bytes that are not a plain file. ``open`` gives a new
    readable, seekable binary file object each time libvlc opens the track
    (it may raise; the track is then unplayable); ``name`` identifies it in
    messages."""

    @property
    def name(self) -> str: ...

    def open(self) -> BinaryIO: ...


@dataclass(frozen=True)
class Track:
    """One playable file, or a :class:`MediaSource`. ``duration`` is in
    seconds, when the store knows it; libvlc's own figure wins once the file
    is open. ``number`` is the track's place on its album. Raises ValueError
    for an unknown kind or a negative duration."""

    path: Path | MediaSource
    title: str
    artist: str = ""
    album: str | None = None
    kind: Kind = "song"
    duration: float | None = None
    item_id: str | None = None
    number: int | None = None

    @property
    def name(self) -> str:
        """The file's or the source's name."""
        return self.path.name

    @property
    def where(self) -> str:
        """Where the bytes are, for messages: the file's path, or the source's name."""
        return str(self.path) if isinstance(self.path, Path) else self.path.name

    def __post_init__(self) -> None:
        if not isinstance(self.path, MediaSource):
            object.__setattr__(self, "path", Path(self.path))
        if self.kind not in KINDS:
            raise ValueError(f"track kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.duration is not None and not (math.isfinite(self.duration)
                                              and self.duration >= 0):
            raise ValueError(f"track duration must be a finite number of seconds >= 0, "
                             f"not {self.duration!r}")


@dataclass(frozen=True)
class Playlist:
    """Tracks in the order they play. The player keeps the index of the one
    playing (:attr:`Player.index`), so one playlist can be shared freely."""

    tracks: tuple[Track, ...]
    title: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracks", tuple(self.tracks))

    def __len__(self) -> int:
        return len(self.tracks)


@dataclass(frozen=True)
class PlayerStatus:
    """What the screen shows: handed to ``on_change`` and returned by
    :meth:`Player.status`. ``index`` and ``track`` are None when idle."""

    state: PlayerState
    index: int | None = None
    track: Track | None = None
    error: str | None = None


# -- the player ----------------------------------------------------------------------

_STOP = object()  # tells the worker thread to finish

# libvlc's media states that the player acts on (libvlc_state_t).
_VLC_PLAYING = int(vlc.State.Playing.value)
_VLC_ENDED = int(vlc.State.Ended.value)
_VLC_ERROR = int(vlc.State.Error.value)


class Player:
    """Plays a :class:`Playlist` through libvlc.

    ``options`` are libvlc's command-line options (tests pass
    ``--aout=dummy --vout=dummy``). ``on_change``, which may also be set
    later as an attribute, is called with a :class:`PlayerStatus` whenever
    the state, the track or the error changes; it runs on the player's own
    thread, never libvlc's, so it may call back into the player, and an
    exception it raises is logged and dropped.

    Every method is safe to call from any thread. Call :meth:`close` (or use
    the player as a context manager) to release libvlc.

    Raises PlayerError if libvlc refuses the options."""

    def __init__(self, options: Sequence[str] = TABLET_OPTIONS, *,
                 on_change: Callable[[PlayerStatus], None] | None = None) -> None:
        self.on_change = on_change
        self._lock = threading.RLock()
        self._notes: queue.SimpleQueue[object] = queue.SimpleQueue()
        instance = vlc.Instance(*options) if options else vlc.Instance()
        if instance is None:
            raise PlayerError(f"libvlc refused the options {' '.join(options)!r}")
        self._instance: Any = instance
        self._mp: Any = instance.media_player_new()
        self._playlist: Playlist | None = None
        self._index: int | None = None
        self._state = PlayerState.IDLE
        self._error: str | None = None
        self._volume = DEFAULT_VOLUME
        self._generation = 0  # which track libvlc's notes are about
        self._media: Any = None
        self._media_events: Any = None
        self._source_id = 0  # the MediaSource libvlc reads through callbacks, if any
        self._closed = False
        self._mp.audio_set_volume(self._volume)
        self._thread = threading.Thread(target=self._run, name="sallyport-player", daemon=True)
        self._thread.start()

    # -- what is playing -----------------------------------------------------------

    def status(self) -> PlayerStatus:
        with self._lock:
            return self._status()

    @property
    def state(self) -> PlayerState:
        return self._state

    @property
    def error(self) -> str | None:
        """Why the current track could not be played (state ``error``)."""
        return self._error

    @property
    def playlist(self) -> Playlist | None:
        return self._playlist

    @property
    def index(self) -> int | None:
        """The current track's place in the playlist; None when idle."""
        return self._index

    @property
    def track(self) -> Track | None:
        return self.status().track

    @property
    def volume(self) -> int:
        return self._volume

    def position(self) -> float:
        """Seconds into the current track; 0.0 unless playing or paused."""
        with self._lock:
            if self._state not in (PlayerState.PLAYING, PlayerState.PAUSED):
                return 0.0
            return max(0, int(self._mp.get_time())) / 1000

    def duration(self) -> float | None:
        """The current track's length in seconds: libvlc's once the file is
        open, the store's before that, None if neither knows."""
        with self._lock:
            track = self._current()
            if track is None:
                return None
            if self._state in (PlayerState.PLAYING, PlayerState.PAUSED):
                length = int(self._mp.get_length())
                if length > 0:
                    return length / 1000
            return track.duration

    # -- controls ------------------------------------------------------------------

    def play(self, playlist: Playlist, start: int = 0) -> None:
        """Play ``playlist`` from track ``start``, then the tracks after it.
        Raises ValueError for an empty playlist or a start outside it."""
        if not playlist.tracks:
            raise ValueError("cannot play an empty playlist")
        if not 0 <= start < len(playlist):
            raise ValueError(f"start must be a track of the playlist (0 to {len(playlist) - 1}), "
                             f"not {start}")
        with self._lock:
            self._check_open()
            self._playlist = playlist
            self._start(start)
            self._changed()

    def pause(self) -> None:
        """Pause the track playing; does nothing in any other state."""
        with self._lock:
            self._check_open()
            if self._state is PlayerState.PLAYING:
                self._mp.set_pause(1)
                self._state = PlayerState.PAUSED
                self._changed()

    def resume(self) -> None:
        """Go on playing a paused track; does nothing in any other state."""
        with self._lock:
            self._check_open()
            if self._state is PlayerState.PAUSED:
                self._mp.set_pause(0)
                self._state = PlayerState.PLAYING
                self._changed()

    def toggle_pause(self) -> None:
        """One button: pause when playing, resume when paused."""
        with self._lock:
            if self._state is PlayerState.PAUSED:
                self.resume()
            else:
                self.pause()

    def stop(self) -> None:
        """Stop and forget the playlist (state ``idle``)."""
        with self._lock:
            self._check_open()
            self._unload()
            self._playlist = None
            self._index = None
            self._state = PlayerState.IDLE
            self._error = None
            self._changed()

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds`` into the current track (playing or paused; in
        any other state there is nothing to seek, and nothing happens). Raises
        ValueError for a negative or non-finite time, or one past the end of a
        track whose length is known."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seek to a time in seconds >= 0, not {seconds!r}")
        with self._lock:
            self._check_open()
            if self._state not in (PlayerState.PLAYING, PlayerState.PAUSED):
                return
            length = self.duration()
            if length is not None and seconds > length:
                raise ValueError(f"cannot seek to {seconds:.1f} s: the track is "
                                 f"{length:.1f} s long")
            self._mp.set_time(round(seconds * 1000))

    def next(self) -> None:
        """Play the next track; after the last one, the playlist has ended."""
        with self._lock:
            self._check_open()
            if self._playlist is None or self._index is None:
                return
            if self._index + 1 < len(self._playlist):
                self._start(self._index + 1)
            else:
                self._unload()
                self._state = PlayerState.ENDED
                self._error = None
            self._changed()

    def previous(self) -> None:
        """Play the track before this one (the first track starts over);
        once the playlist has ended, play its last track again."""
        with self._lock:
            self._check_open()
            if self._playlist is None or self._index is None:
                return
            if self._state is PlayerState.ENDED:
                self._start(self._index)
            else:
                self._start(max(self._index - 1, 0))
            self._changed()

    def set_volume(self, volume: float) -> None:
        """Set the volume, 0 (silent) to 100 (full). Raises ValueError for
        anything else."""
        if isinstance(volume, bool) or not isinstance(volume, int | float):
            raise ValueError(f"volume must be a number from {MIN_VOLUME} to {MAX_VOLUME}, "
                             f"not {volume!r}")
        if not (math.isfinite(volume) and MIN_VOLUME <= volume <= MAX_VOLUME):
            raise ValueError(f"volume must be from {MIN_VOLUME} to {MAX_VOLUME}, not {volume!r}")
        with self._lock:
            self._check_open()
            self._volume = round(volume)
            self._mp.audio_set_volume(self._volume)

    def close(self) -> None:
        """Stop playing, release libvlc and end the player's thread. Safe to
        call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._unload()
            self._mp.release()
            self._instance.release()
            self._notes.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inside (the lock is held) ---------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise PlayerError("the player is closed")

    def _current(self) -> Track | None:
        if self._playlist is None or self._index is None:
            return None
        return self._playlist.tracks[self._index]

    def _status(self) -> PlayerStatus:
        return PlayerStatus(self._state, self._index, self._current(), self._error)

    def _changed(self) -> None:
        # Queued, not called: on_change runs on the worker thread, in order.
        self._notes.put(self._status())

    def _start(self, index: int) -> None:
        assert self._playlist is not None
        track = self._playlist.tracks[index]
        self._unload()
        self._index = index
        source = track.path
        problem = unplayable(source) if isinstance(source, Path) else _unopenable(source)
        if problem is not None:
            self._fail(f"cannot play {track.title or track.name!r}: {problem}")
            return
        if isinstance(source, Path):
            media = self._instance.media_new_path(str(source))
        else:
            self._source_id = _register(source)
            media = self._instance.media_new_callbacks(
                _open_cb, _read_cb, _seek_cb, _close_cb, ctypes.c_void_p(self._source_id))
        events = media.event_manager()
        events.event_attach(vlc.EventType.MediaStateChanged, self._on_media_state,
                            self._generation)
        self._media, self._media_events = media, events
        self._state = PlayerState.PLAYING
        self._error = None
        self._mp.set_media(media)
        if self._mp.play() != 0:
            self._fail(f"cannot play {track.title or track.name!r}: libvlc would not "
                       f"start it")

    def _unload(self) -> None:
        """Stop libvlc and let go of the current file; notes about it that
        are still on their way are ignored from here on."""
        self._generation += 1
        self._mp.stop()
        if self._media is not None:
            self._media_events.event_detach(vlc.EventType.MediaStateChanged)
            self._media.release()
            self._media = self._media_events = None
        if self._source_id:
            _unregister(self._source_id)  # libvlc opens it no more
            self._source_id = 0

    def _fail(self, message: str) -> None:
        self._unload()
        self._state = PlayerState.ERROR
        self._error = message
        log.warning("%s", message)

    # -- libvlc's side ---------------------------------------------------------------

    def _on_media_state(self, event: Any, generation: int) -> None:
        # On libvlc's thread, with libvlc's locks held: note it and return.
        self._notes.put((generation, int(event.u.new_state)))

    def _run(self) -> None:
        while True:
            note = self._notes.get()
            if note is _STOP:
                return
            if isinstance(note, PlayerStatus):
                self._deliver(note)
            elif isinstance(note, tuple):
                self._on_vlc_state(*note)

    def _on_vlc_state(self, generation: int, vlc_state: int) -> None:
        with self._lock:
            if self._closed or generation != self._generation:
                return  # about a file this player has moved on from
            track = self._current()
            assert track is not None
            name = track.title or track.name
            if vlc_state == _VLC_PLAYING:
                # libvlc may open the audio output afresh for a file; keep the
                # volume, and a pause asked for while the file was opening.
                self._mp.audio_set_volume(self._volume)
                if self._state is PlayerState.PAUSED:
                    self._mp.set_pause(1)
                return
            if self._state not in (PlayerState.PLAYING, PlayerState.PAUSED):
                return
            if vlc_state == _VLC_ERROR:
                self._fail(f"cannot play {name!r}: libvlc could not open {track.where}")
            elif vlc_state == _VLC_ENDED:
                if _stream_count(self._media) == 0:
                    self._fail(f"cannot play {name!r}: no audio or video in {track.where} "
                               f"that this tablet can play")
                elif self._playlist is not None and self._index is not None \
                        and self._index + 1 < len(self._playlist):
                    self._start(self._index + 1)
                else:
                    self._unload()
                    self._state = PlayerState.ENDED
            else:
                return
            self._changed()

    def _deliver(self, status: PlayerStatus) -> None:
        callback = self.on_change
        if callback is None:
            return
        try:
            callback(status)
        except Exception:  # a bug in the screen must not stop playback
            log.exception("on_change failed for %s", status)


def unplayable(path: Path) -> str | None:
    """Why ``path`` cannot be handed to libvlc, or None if it can: it must be
    a regular, non-empty file that can be read. (A FIFO or a device would
    block or never end; a directory would be opened as a playlist.)"""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return f"the file {path} is missing"
    except OSError as e:
        return f"the file {path} cannot be read ({e.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    if info.st_size == 0:
        return f"the file {path} is empty"
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        return f"the file {path} cannot be read ({e.strerror})"
    return None


def _stream_count(media: Any) -> int:
    """How many audio, video or text streams libvlc found in an opened file."""
    if media is None:
        return 0
    # libvlc hands back an array of track pointers that the caller frees.
    array = ctypes.POINTER(vlc.MediaTrack)()
    count = int(vlc.libvlc_media_tracks_get(media, ctypes.byref(array)))
    if count > 0:
        vlc.libvlc_media_tracks_release(
            ctypes.cast(array, ctypes.POINTER(ctypes.POINTER(vlc.MediaTrack))), count)
    return count



# -- sources read through libvlc's media callbacks ------------------------------------
#
# libvlc calls these from its own threads, with a pointer-sized ``opaque``:
# for open, the id of a registered MediaSource; for read, seek and close, the
# handle of one open stream. The four callbacks are made once, for the life of
# the process, so libvlc can never call into a freed one; they look up what
# they serve in two tables, and never raise (an error is -1 to libvlc).

_registry_lock = threading.Lock()
_sources: dict[int, MediaSource] = {}
_streams: dict[int, BinaryIO] = {}
_ids = itertools.count(1)


def _register(source: MediaSource) -> int:
    with _registry_lock:
        source_id = next(_ids)
        _sources[source_id] = source
        return source_id


def _unregister(source_id: int) -> None:
    with _registry_lock:
        _sources.pop(source_id, None)


def _unopenable(source: MediaSource) -> str | None:
    """Why ``source`` cannot be played, or None if it opens and has bytes."""
    try:
        with source.open() as stream:
            if not stream.read(1):
                return f"{source.name} is empty"
    except Exception as e:  # noqa: BLE001 - whatever the source raises, the track is unplayable
        return f"{source.name} cannot be read ({e})"
    return None


def _open(opaque: int | None, datap: Any, sizep: Any) -> int:
    try:
        with _registry_lock:
            source = _sources[opaque or 0]
        stream = source.open()
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        with _registry_lock:
            handle = next(_ids)
            _streams[handle] = stream
        datap[0] = handle
        sizep[0] = size
        return 0
    except Exception:
        log.warning("a media source would not open", exc_info=True)
        return -1


def _read(handle: int | None, buffer: Any, length: int) -> int:
    try:
        with _registry_lock:
            stream = _streams[handle or 0]
        target = (ctypes.c_char * length).from_address(ctypes.addressof(buffer.contents))
        return int(stream.readinto(memoryview(target).cast("B")))  # type: ignore[attr-defined]
    except Exception:
        log.warning("a media source could not be read", exc_info=True)
        return -1


def _seek(handle: int | None, offset: int) -> int:
    try:
        with _registry_lock:
            stream = _streams[handle or 0]
        stream.seek(offset)
        return 0
    except Exception:
        log.warning("a media source could not seek", exc_info=True)
        return -1


def _close(handle: int | None) -> None:
    with _registry_lock:
        stream = _streams.pop(handle or 0, None)
    if stream is not None:
        try:
            stream.close()
        except Exception:
            log.debug("closing a media source failed", exc_info=True)


_open_cb = vlc.CallbackDecorators.MediaOpenCb(_open)
_read_cb = vlc.CallbackDecorators.MediaReadCb(_read)
_seek_cb = vlc.CallbackDecorators.MediaSeekCb(_seek)
_close_cb = vlc.CallbackDecorators.MediaCloseCb(_close)
