"""A videogram's captions: a WebVTT track its sender supplied, carried in the
message record beside the attachment it belongs to (``"captions"``), read by
the central server when the message is sent and by the tablet that shows it.

:func:`parse` reads a track with webvtt-py and holds it to bounds that a
30-second videogram's captions never come near, so a hostile file costs
little: the text's size, the number of cues, each cue's length, times that
run forwards and stay within the hour. A track webvtt-py reads only in part
(it skips cues it cannot parse, silently) is refused: every ``-->`` line must
become a cue. Cue text is plain: tags are removed by webvtt-py.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import webvtt
from webvtt.errors import MalformedFileError

MAX_CAPTIONS_BYTES = 16 * 1024  # the WebVTT text, UTF-8
MAX_CUES = 200
MAX_CUE_CHARS = 300
MAX_SECONDS = 3600.0


class CaptionsError(ValueError):
    """A caption track that cannot be shown: ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"captions refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    text: str


@dataclass(frozen=True)
class Captions:
    cues: tuple[Cue, ...]

    def at(self, seconds: float) -> str:
        """The text shown at ``seconds`` into the video ('' between cues);
        cues that overlap are shown together, in order."""
        starts = [c.start for c in self.cues]
        shown = [c.text for c in self.cues[:bisect.bisect_right(starts, seconds)]
                 if c.start <= seconds < c.end]
        return "\n".join(shown)

    @property
    def text(self) -> str:
        """Every cue's text, in order (for reading aloud)."""
        return "\n".join(c.text for c in self.cues)


def parse(text: str) -> Captions:
    """Read a WebVTT track. Raises CaptionsError for one that is too large,
    malformed, or outside the bounds above."""
    if not isinstance(text, str):
        raise CaptionsError(f"captions are WebVTT text, not {type(text).__name__}")
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_CAPTIONS_BYTES:
        raise CaptionsError(f"captions are at most {MAX_CAPTIONS_BYTES} bytes, not {size}")
    if "\x00" in text:
        raise CaptionsError("captions hold a NUL character")
    arrows = sum(1 for line in text.splitlines() if "-->" in line)
    if arrows > MAX_CUES:
        raise CaptionsError(f"captions have at most {MAX_CUES} cues, not {arrows}")
    try:
        track = webvtt.from_string(text)
    except (MalformedFileError, ValueError, IndexError, TypeError) as e:
        raise CaptionsError(f"not a WebVTT file ({e or type(e).__name__})") from e
    cues = []
    for caption in track.captions:
        start = caption.start_time.in_milliseconds() / 1000
        end = caption.end_time.in_milliseconds() / 1000
        body = " ".join(str(caption.text).split("\n")).strip()
        if not 0 <= start < end <= MAX_SECONDS:
            raise CaptionsError(f"a cue from {caption.start} to {caption.end} does not run "
                                f"forwards within {MAX_SECONDS:.0f} s")
        if len(body) > MAX_CUE_CHARS:
            raise CaptionsError(f"a cue is at most {MAX_CUE_CHARS} characters, not {len(body)}")
        cues.append(Cue(start, end, body))
    if len(cues) != arrows:
        raise CaptionsError(f"{arrows - len(cues)} of {arrows} cues cannot be read")
    if not cues:
        raise CaptionsError("captions have no cues")
    return Captions(tuple(sorted(cues, key=lambda c: (c.start, c.end))))
