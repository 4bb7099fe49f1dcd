"""Reading messages and menus aloud with espeak-ng, offline.

Speech runs in a process of its own (``espeak-ng``), so the screen never waits
for it: :meth:`Speaker.say` starts the process and returns, a small thread
hands it the text on its standard input (never a file: a message's text
never reaches the disk in the clear, nor another process's command line),
and :meth:`Speaker.stop` ends it. Saying something new stops what was being
said. The voice follows the language chosen on the tablet.

Where the sound goes is the speaker's business: the tablet's sound device by
default; a WAV file (``wav``), or a file descriptor that receives the WAV as
it is made (``stream``) for tests and recordings.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from pathlib import Path

log = logging.getLogger(__name__)

PROGRAM = "espeak-ng"
# espeak-ng's voices for the tablet's languages (Spanish as spoken in the Americas).
VOICES = {"en": "en-us", "es": "es-419"}
WORDS_PER_MINUTE = 150  # a little slower than espeak-ng's 175: easier to follow
MAX_SPOKEN_CHARS = 20_000  # a long letter; anything past it is not read
STOP_WAIT_S = 2.0


class SpeechUnavailable(Exception):
    """Text cannot be read aloud on this tablet: espeak-ng is missing or will
    not start. ``program`` is what was tried; ``reason`` says why."""

    def __init__(self, program: str, reason: str) -> None:
        super().__init__(f"reading aloud is not available: {reason} ({program})")
        self.program = program
        self.reason = reason


def voice_for(language: str) -> str:
    """espeak-ng's voice for ``language``; raises ValueError for one it lacks."""
    try:
        return VOICES[language]
    except KeyError:
        raise ValueError(f"no voice for {language!r}; the tablet speaks "
                         f"{', '.join(VOICES)}") from None


def command(text_language: str, *, program: str = PROGRAM, wav: Path | None = None,
            stream: bool = False, words_per_minute: int = WORDS_PER_MINUTE) -> list[str]:
    """espeak-ng's command line (the text goes on its standard input)."""
    args = [program, "-v", voice_for(text_language), "-s", str(words_per_minute), "--stdin"]
    if wav is not None:
        args += ["-w", str(wav)]
    elif stream:
        args.append("--stdout")
    return args


class Speaker:
    """Reads text aloud in a process of its own. Not thread-safe: call it from
    one thread (the screen's)."""

    def __init__(self, program: str = PROGRAM, *, wav: Path | None = None,
                 stream: int | None = None, words_per_minute: int = WORDS_PER_MINUTE) -> None:
        self.program = program
        self.wav = wav
        self.stream = stream
        self.words_per_minute = words_per_minute
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The speaking process's id while it speaks."""
        return self._process.pid if self.speaking and self._process is not None else None

    @property
    def speaking(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def say(self, text: str, language: str) -> None:
        """Start reading ``text`` in ``language``'s voice (after stopping what
        was being read) and return at once. Raises SpeechUnavailable when
        espeak-ng cannot be started, ValueError for a language without a voice."""
        args = command(language, program=self.program, wav=self.wav,
                       stream=self.stream is not None,
                       words_per_minute=self.words_per_minute)
        self.stop()
        if shutil.which(self.program) is None:
            raise SpeechUnavailable(self.program, "espeak-ng is not installed")
        try:
            process = subprocess.Popen(
                args, stdin=subprocess.PIPE,
                stdout=self.stream if self.stream is not None else subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            raise SpeechUnavailable(self.program, f"espeak-ng will not start: {e}") from e
        self._process = process
        spoken = text[:MAX_SPOKEN_CHARS].encode("utf-8", errors="replace")
        threading.Thread(target=_feed, args=(process, spoken), name="sallyport-speech",
                         daemon=True).start()
        log.info("reading aloud: %d characters in %s (pid %d)", len(spoken), language,
                 process.pid)

    def stop(self) -> None:
        """Stop reading (nothing happens when nothing is being read)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the reading to finish (tests, recordings); its exit status."""
        return self._process.wait(timeout) if self._process is not None else None


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    stdin = process.stdin
    if stdin is None:
        return
    try:
        stdin.write(data)
        stdin.close()
    except OSError:
        pass  # stopped before it had read everything: nothing more to say
