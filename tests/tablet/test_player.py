"""The tablet's media player, through real libvlc with dummy audio and video
outputs, on files the tests make: a WAV song, a raw Y4M video and an MP4
videogram (H.264 and AAC); played from plain files, and from the tablet's
sealed store through libvlc's media callbacks."""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import vlc  # type: ignore[import-untyped]
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.at_rest import Sealer
from device_security.errors import IntegrityError
from simulators.media import mp4_videogram, tone_wav, y4m_video
from tablet.library import Library
from tablet.player import (
    MediaSource,
    Player,
    PlayerError,
    PlayerState,
    PlayerStatus,
    Playlist,
    Track,
)
from tablet.store import TabletStore

OPTIONS = ("--aout=dummy", "--vout=dummy", "--no-video-title-show", "--quiet")
WAIT = 20.0  # seconds to wait for a state; generous, never a measure of speed
SEEK_TOLERANCE = 0.5  # seconds


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {
        "short_a": tone_wav(d / "short_a.wav", 1.5, 440),
        "short_b": y4m_video(d / "short_b.y4m", 1.5),
        "short_c": tone_wav(d / "short_c.wav", 1.5, 660),
        "song": tone_wav(d / "song.wav", 8, 523),
        "song6": tone_wav(d / "song6.wav", 6, 587),
        "video": y4m_video(d / "video.y4m", 8),
        "videogram": mp4_videogram(d / "videogram.mp4", 8),
    }


@pytest.fixture(scope="module")
def sealed(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[dict[str, MediaSource]]:
    """The same media, as a dock leaves them on a tablet: sealed in its store."""
    store = TabletStore(tmp_path_factory.mktemp("tablet"), serial="JP5S-000777",
                        sign=Ed25519PrivateKey.generate().sign, sealer=Sealer(os.urandom(32)))
    library = Library(store, resident="874512")
    sources: dict[str, MediaSource] = {}
    for name, path in media.items():
        data = path.read_bytes()
        sha = hashlib.sha256(data).digest()
        sink = store.begin_blob(sha, len(data), 0)
        sink.write(0, data)
        sink.finish()
        sources[name] = library.media(sha.hex())
    yield sources
    store.close()


class Changes:
    """What on_change reported, with a way to wait for a status."""

    def __init__(self) -> None:
        self.seen: list[PlayerStatus] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, status: PlayerStatus) -> None:
        with self._cond:
            self.seen.append(status)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def wait_for(self, check: Callable[[PlayerStatus], bool], timeout: float = WAIT) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: any(check(s) for s in self.seen), timeout):
                pytest.fail(f"no such status within {timeout} s; seen {self.seen}")

    def states(self) -> list[PlayerState]:
        with self._cond:
            return [s.state for s in self.seen]


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
def player(changes: Changes) -> Iterator[Player]:
    with Player(OPTIONS, on_change=changes) as p:
        yield p


def wait_until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.02)


def settled_position(player: Player) -> float:
    """The position once libvlc has stopped moving it (after a pause)."""
    last = [player.position()]

    def still() -> bool:
        time.sleep(0.2)
        now = player.position()
        same = now == last[0]
        last[0] = now
        return same

    wait_until(still, "the position settles")
    return last[0]


def song(path: Path | MediaSource, title: str = "", **kw: object) -> Track:
    return Track(path, title or path.name, **kw)  # type: ignore[arg-type]


def video(path: Path | MediaSource, title: str = "") -> Track:
    return Track(path, title or path.name, kind="video")


def track_for(media: dict[str, Path] | dict[str, MediaSource], name: str) -> Track:
    return song(media[name]) if name.startswith("song") else video(media[name])


# -- playing through -----------------------------------------------------------------


def test_a_song_plays_to_the_end(player: Player, changes: Changes, media: dict[str, Path]) -> None:
    player.play(Playlist((song(media["short_a"]),)))
    assert player.state is PlayerState.PLAYING
    changes.wait_for(lambda s: s.state is PlayerState.ENDED)
    assert changes.states() == [PlayerState.PLAYING, PlayerState.ENDED]
    assert player.error is None
    assert player.position() == 0.0
    assert changes.threads == {"sallyport-player"}


def test_a_playlist_moves_on_by_itself_and_ends_after_the_last(
        player: Player, changes: Changes, media: dict[str, Path]) -> None:
    tracks = (song(media["short_a"]), video(media["short_b"]), song(media["short_c"]))
    player.play(Playlist(tracks, "mixed"))
    changes.wait_for(lambda s: s.state is PlayerState.ENDED)
    assert [(s.state, s.index) for s in changes.seen] == [
        (PlayerState.PLAYING, 0), (PlayerState.PLAYING, 1), (PlayerState.PLAYING, 2),
        (PlayerState.ENDED, 2)]
    assert [s.track for s in changes.seen[:3]] == list(tracks)


def test_playing_from_a_later_track(player: Player, changes: Changes,
                                    media: dict[str, Path]) -> None:
    tracks = (song(media["song"]), song(media["short_a"]))
    player.play(Playlist(tracks), start=1)
    assert player.track == tracks[1]
    changes.wait_for(lambda s: s.state is PlayerState.ENDED)
    assert {s.index for s in changes.seen} == {1}
    with pytest.raises(ValueError, match="0 to 1"):
        player.play(Playlist(tracks), start=2)
    with pytest.raises(ValueError, match="empty"):
        player.play(Playlist(()))


# -- seeking and pausing -------------------------------------------------------------


@pytest.mark.parametrize("source", ["file", "sealed"])
@pytest.mark.parametrize("name", ["song", "video", "videogram"])
def test_seek_lands_where_asked(player: Player, media: dict[str, Path],
                                sealed: dict[str, MediaSource], name: str, source: str) -> None:
    player.play(Playlist((track_for(media if source == "file" else sealed, name),)))
    wait_until(lambda: player.position() > 0.2, "playback started")
    duration = player.duration()
    assert duration is not None and math.isclose(duration, 8.0, abs_tol=0.3)

    # Paused: the position reported is where the seek went.
    player.pause()
    for target in (5.0, 2.3, 6.1):
        player.seek(target)
        wait_until(lambda t=target: abs(player.position() - t) <= SEEK_TOLERANCE,  # type: ignore[misc]
                   f"{name}: paused seek to {target}")

    # Playing again from there: the stream goes on from the target, never
    # from before it, and never further than the time that has passed.
    target = 3.5
    player.seek(target)
    wait_until(lambda: abs(player.position() - target) <= SEEK_TOLERANCE, "seek to 3.5")
    resumed = time.monotonic()
    player.resume()
    wait_until(lambda: player.position() > target + 0.2, f"{name}: playing on after the seek")
    position, elapsed = player.position(), time.monotonic() - resumed
    assert target - SEEK_TOLERANCE <= position <= target + SEEK_TOLERANCE + elapsed

    # While playing, a seek towards the end runs out the track from there.
    # (The dummy audio output drops the last second or so buffered at the
    # end of a file, so a seek leaves some room.)
    player.seek(5.5)
    samples = []
    while player.state is PlayerState.PLAYING:
        samples.append(player.position())
        time.sleep(0.05)
        assert len(samples) < WAIT / 0.05, "the track did not end after a seek near its end"
    assert player.state is PlayerState.ENDED
    late = [p for p in samples[5:] if p > 0]  # a few samples for the seek to take
    assert late and min(late) >= 5.5 - SEEK_TOLERANCE, samples


def test_seek_refuses_times_outside_the_track(player: Player, media: dict[str, Path]) -> None:
    player.seek(3.0)  # nothing loaded: nothing to do
    player.play(Playlist((song(media["song"]),)))
    wait_until(lambda: player.duration() == 8.0, "length known")
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="seek"):
            player.seek(bad)
    with pytest.raises(ValueError, match=r"8\.0 s long"):
        player.seek(9.0)


def test_pause_holds_and_resume_goes_on(player: Player, changes: Changes,
                                        media: dict[str, Path]) -> None:
    player.play(Playlist((song(media["song"]),)))
    wait_until(lambda: player.position() > 0.5, "playback started")
    player.pause()
    assert player.state is PlayerState.PAUSED
    held = settled_position(player)
    time.sleep(1.0)
    assert player.position() == held
    player.toggle_pause()
    assert player.status().state is PlayerState.PLAYING
    wait_until(lambda: player.position() > held + 0.5, "playing on after resume")
    changes.wait_for(lambda s: s.state is PlayerState.PLAYING and len(changes.seen) >= 3)
    assert changes.states()[:3] == [PlayerState.PLAYING, PlayerState.PAUSED,
                                    PlayerState.PLAYING]


def test_a_pause_while_the_file_opens_holds(player: Player, media: dict[str, Path]) -> None:
    player.play(Playlist((video(media["video"]),)))
    player.pause()
    held = settled_position(player)
    time.sleep(1.0)
    assert player.state is PlayerState.PAUSED
    assert player.position() == held
    player.resume()
    wait_until(lambda: player.position() > held + 0.5, "playing after the early pause")


# -- next, previous, volume ----------------------------------------------------------


def test_next_and_previous(player: Player, changes: Changes, media: dict[str, Path]) -> None:
    tracks = (song(media["song"]), song(media["song6"]), video(media["video"]))

    def playing(index: int, length: float) -> None:
        assert player.state is PlayerState.PLAYING
        assert player.index == index
        assert player.track == tracks[index]
        # libvlc's own length shows which file it has open
        wait_until(lambda: player.duration() == length, f"track {index} open")
        wait_until(lambda: player.position() > 0, f"track {index} playing")

    player.play(Playlist(tracks))
    playing(0, 8.0)
    player.next()
    playing(1, 6.0)
    player.next()
    playing(2, 8.0)
    player.previous()
    playing(1, 6.0)
    player.previous()
    playing(0, 8.0)
    player.previous()  # the first track starts over
    playing(0, 8.0)
    player.pause()
    player.next()  # a new track plays even from a pause
    playing(1, 6.0)
    player.next()
    player.next()  # past the last: the playlist has ended
    assert player.state is PlayerState.ENDED
    assert player.position() == 0.0
    player.next()  # and stays ended
    assert player.state is PlayerState.ENDED
    player.previous()  # plays the last track again
    playing(2, 8.0)
    player.stop()
    assert player.status() == PlayerStatus(PlayerState.IDLE)
    player.next()
    player.previous()
    assert player.status().state is PlayerState.IDLE
    changes.wait_for(lambda s: s.state is PlayerState.IDLE)
    assert PlayerState.ERROR not in changes.states()


def test_volume_is_bounded(player: Player, media: dict[str, Path]) -> None:
    for volume, kept in ((0, 0), (100, 100), (55.4, 55), (70, 70)):
        player.set_volume(volume)
        assert player.volume == kept
    for bad in (-1, 101, 100.5, math.nan, "50", None, True):
        with pytest.raises(ValueError, match="volume must be"):
            player.set_volume(bad)  # type: ignore[arg-type]
    assert player.volume == 70
    player.play(Playlist((song(media["short_a"]),)))
    player.set_volume(30)
    wait_until(lambda: player.state is PlayerState.ENDED, "end")
    assert player.volume == 30


# -- files that cannot be played -----------------------------------------------------


@pytest.mark.parametrize("what", ["missing", "empty", "directory", "garbage", "fifo"])
def test_a_file_that_cannot_be_played_is_an_error_state(
        player: Player, changes: Changes, tmp_path: Path, what: str) -> None:
    path = tmp_path / f"{what}.mp3"
    if what == "empty":
        path.touch()
    elif what == "directory":
        path.mkdir()
        tone_wav(path / "inside.wav", 1)
    elif what == "garbage":
        path.write_bytes(bytes(range(256)) * 200)
    elif what == "fifo":
        import os
        os.mkfifo(path)
    player.play(Playlist((song(path, "Lost Song"),)))
    changes.wait_for(lambda s: s.state is PlayerState.ERROR)
    assert player.state is PlayerState.ERROR
    assert player.error is not None and "Lost Song" in player.error and str(path) in player.error
    assert changes.seen[-1].error == player.error
    assert player.position() == 0.0
    player.pause()
    player.resume()
    player.seek(1.0)
    assert player.state is PlayerState.ERROR


def test_a_missing_track_stops_an_album_and_next_moves_past_it(
        player: Player, changes: Changes, media: dict[str, Path], tmp_path: Path) -> None:
    tracks = (song(media["short_a"]), song(tmp_path / "not-arrived.wav", "Gone"),
              song(media["short_c"]))
    player.play(Playlist(tracks))
    changes.wait_for(lambda s: s.state is PlayerState.ERROR)
    assert player.index == 1
    assert player.error is not None and "missing" in player.error
    player.next()
    changes.wait_for(lambda s: s.state is PlayerState.ENDED)
    assert [(s.state, s.index) for s in changes.seen] == [
        (PlayerState.PLAYING, 0), (PlayerState.ERROR, 1), (PlayerState.PLAYING, 2),
        (PlayerState.ENDED, 2)]


# -- callbacks and lifetime ----------------------------------------------------------


def test_on_change_may_call_the_player_and_its_errors_do_not_stop_playback(
        media: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[PlayerState, float]] = []
    done = threading.Event()
    with Player(OPTIONS) as player:
        def on_change(status: PlayerStatus) -> None:
            seen.append((player.state, player.position()))
            if status.state is PlayerState.ENDED:
                done.set()
            raise RuntimeError("a broken screen")

        player.on_change = on_change
        with caplog.at_level(logging.ERROR, logger="tablet.player"):
            player.play(Playlist((song(media["short_a"]), song(media["short_c"]))))
            assert done.wait(WAIT)
    assert len(seen) == 3
    assert "a broken screen" in caplog.text


def test_close_while_playing_then_the_player_is_closed(media: dict[str, Path]) -> None:
    player = Player(OPTIONS)
    player.play(Playlist((video(media["videogram"]),)))
    wait_until(lambda: player.position() > 0, "playing")
    player.close()
    player.close()
    with pytest.raises(PlayerError, match="closed"):
        player.play(Playlist((video(media["videogram"]),)))
    with pytest.raises(PlayerError, match="closed"):
        player.set_volume(10)


def test_libvlc_options_it_refuses_are_a_player_error() -> None:
    with pytest.raises(PlayerError, match="--no-such-option"):
        Player(("--no-such-option",))


def test_a_track_of_an_unknown_kind_or_length_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        Track(tmp_path / "x", "x", kind="photo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duration"):
        Track(tmp_path / "x", "x", duration=-1)


# -- sealed sources --------------------------------------------------------------------


def test_a_sealed_album_plays_through_to_its_end(player: Player, changes: Changes,
                                                 sealed: dict[str, MediaSource]) -> None:
    tracks = (song(sealed["short_a"]), video(sealed["short_b"]), song(sealed["short_c"]))
    player.play(Playlist(tracks))
    changes.wait_for(lambda s: s.state is PlayerState.ENDED)
    assert [(s.state, s.index) for s in changes.seen] == [
        (PlayerState.PLAYING, 0), (PlayerState.PLAYING, 1), (PlayerState.PLAYING, 2),
        (PlayerState.ENDED, 2)]
    assert player.error is None


class Broken:
    """A source whose bytes stop opening part of the way in (a damaged store)."""

    def __init__(self, inner: MediaSource, good: int) -> None:
        self.inner, self.good, self.name = inner, good, "broken-" + inner.name

    def open(self) -> Any:
        stream, good = self.inner.open(), self.good

        class Failing(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def seekable(self) -> bool:
                return True

            def seek(self, offset: int, whence: int = 0) -> int:
                return stream.seek(offset, whence)

            def readinto(self, buffer: Any) -> int:
                if stream.tell() >= good:
                    raise IntegrityError("sealed value does not open")
                return stream.readinto(buffer)  # type: ignore[attr-defined]

            def close(self) -> None:
                stream.close()
                super().close()

        return Failing()


@pytest.mark.parametrize("good", [0, 40_000])
def test_a_sealed_file_that_stops_opening_ends_in_a_state_not_a_hang(
        player: Player, changes: Changes, sealed: dict[str, MediaSource], good: int) -> None:
    player.play(Playlist((song(Broken(sealed["song"], good)), song(sealed["short_a"]))))
    changes.wait_for(lambda s: s.state in (PlayerState.ERROR, PlayerState.ENDED)
                     or (s.index == 1 and s.state is PlayerState.PLAYING))
    if good == 0:  # nothing opens: the track is refused before libvlc sees it
        assert player.state is PlayerState.ERROR and "cannot be read" in (player.error or "")
    player.stop()
    assert player.state is PlayerState.IDLE


# -- what libvlc decodes here --------------------------------------------------------


@pytest.mark.parametrize(("name", "codecs"), [
    ("video", {"video": b"I420"}),
    ("videogram", {"video": b"h264", "audio": b"mp4a"}),
    ("song", {"audio": b"s16l"}),
])
def test_libvlc_decodes_the_test_media(media: dict[str, Path], name: str,
                                       codecs: dict[str, bytes]) -> None:
    """The files above are real media to libvlc: their streams are found,
    decoded and shown (to the dummy outputs), at 64x48 for the videos."""
    instance = vlc.Instance(*OPTIONS)
    player = instance.media_player_new()
    item = instance.media_new_path(str(media[name]))
    try:
        player.set_media(item)
        player.play()
        wait_until(lambda: player.get_time() > 500, f"{name} playing")
        found = {str(t.type).rsplit(".", 1)[-1]: t.codec.to_bytes(4, "little")
                 for t in item.tracks_get() or ()}
        assert found == codecs
        stats = vlc.MediaStats()
        wait_until(lambda: item.get_stats(stats) and (stats.decoded_video
                                                      if "video" in codecs
                                                      else stats.decoded_audio) > 0,
                   f"{name} decoded")
        if "video" in codecs:
            assert player.video_get_size(0) == (64, 48)
            wait_until(lambda: item.get_stats(stats) and stats.displayed_pictures > 0,
                       f"{name} shown")
        if "audio" in codecs:
            wait_until(lambda: item.get_stats(stats) and stats.played_abuffers > 0,
                       f"{name} heard")
    finally:
        player.stop()
        item.release()
        player.release()
        instance.release()
