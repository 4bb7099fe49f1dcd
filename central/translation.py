"""Language detection and offline machine translation for staff reviewers.

A message held for review is shown with its original text and, when it is
not in the facility's working language, a machine translation beside it.
Three parts, each replaceable:

- :class:`LanguageDetector` names the language of a text (lingua, offline),
  or says it cannot tell.
- a :class:`Translator` turns text from one language into another;
  :class:`ApertiumTranslator`, the real default, runs the Apertium engine
  installed on the server as a subprocess.
- :class:`ReviewTranslator` puts the two together and always answers with a
  :class:`Translation` record: a translation, or a plain sentence saying why
  there is none. A reviewer always sees the original.

Nothing here sends text off the server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

from lingua import IsoCode639_1, LanguageDetectorBuilder
from lingua import LanguageDetector as _LinguaDetector

from central.errors import CentralError, InvalidInput

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 20_000
"""The longest text that is detected or translated; longer is InvalidInput."""

MAX_OUTPUT_BYTES = 256 * 1024
"""The most a translation engine may write: ~3x the largest input in UTF-8."""

MAX_STDERR_BYTES = 16 * 1024

DEFAULT_LANGUAGES = ("en", "es", "zh", "vi", "tl", "ar", "fr", "ko", "ru", "pt", "so")
"""Languages the detector chooses among by default: English and the languages
most often spoken at home by people in US facilities that lingua can detect.
(Haitian Creole is not among lingua's languages; such text tends to come out as
another language or as undetermined.)"""

DEFAULT_MODES_DIR = Path("/usr/share/apertium/modes")

TranslationStatus = Literal["translated", "same_language", "unavailable", "undetermined"]
TRANSLATED: Final = "translated"
SAME_LANGUAGE: Final = "same_language"
UNAVAILABLE: Final = "unavailable"  # no pair or no engine, or the engine failed
UNDETERMINED: Final = "undetermined"

LANGUAGE_NAMES: Mapping[str, str] = {
    "af": "Afrikaans", "ar": "Arabic", "ast": "Asturian", "bg": "Bulgarian", "bn": "Bengali",
    "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish", "eu": "Basque",
    "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish", "gl": "Galician",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole",
    "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic",
    "it": "Italian", "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh", "ko": "Korean",
    "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "ms": "Malay",
    "nb": "Norwegian Bokmål", "nl": "Dutch", "nn": "Norwegian Nynorsk", "oc": "Occitan",
    "pa": "Punjabi", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sk": "Slovak", "sl": "Slovene", "so": "Somali", "sq": "Albanian", "sr": "Serbian",
    "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "th": "Thai", "tl": "Tagalog",
    "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese",
}

# Apertium names its modes with ISO 639-3 codes ("spa-eng"), a few older pairs
# with ISO 639-1 codes ("en-es"). Codes not listed here are not offered.
_APERTIUM_CODES: Mapping[str, str] = {
    "afr": "af", "ara": "ar", "bul": "bg", "cat": "ca", "ces": "cs", "cym": "cy",
    "dan": "da", "deu": "de", "ell": "el", "eng": "en", "epo": "eo", "eus": "eu",
    "fas": "fa", "fin": "fi", "fra": "fr", "gle": "ga", "glg": "gl", "hat": "ht",
    "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "ind": "id", "isl": "is",
    "ita": "it", "kaz": "kk", "kor": "ko", "lit": "lt", "lav": "lv", "mkd": "mk",
    "msa": "ms", "nld": "nl", "nno": "nn", "nob": "nb", "oci": "oc", "pol": "pl",
    "por": "pt", "ron": "ro", "rus": "ru", "slk": "sk", "slv": "sl", "som": "so",
    "spa": "es", "sqi": "sq", "srp": "sr", "swe": "sv", "swa": "sw", "tgl": "tl",
    "tur": "tr", "ukr": "uk", "urd": "ur", "vie": "vi", "zho": "zh",
}

_MODE_NAME = re.compile(r"([a-z]{2,3})-([a-z]{2,3})")
_ISO_639_1 = re.compile(r"[a-z]{2}")
# C0 controls other than tab and newlines: a NUL makes Apertium flush mid-text.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def language_name(code: str) -> str:
    """The English name of an ISO 639-1 code, for notes ("es" -> "Spanish")."""
    return LANGUAGE_NAMES.get(code, f"the language '{code}'")


def _check_length(text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(
            f"the text is {len(text)} characters long; at most {MAX_TEXT_CHARS} "
            "can be detected or translated"
        )


# -- errors -------------------------------------------------------------------


class TranslationUnavailable(CentralError):
    """No engine on this server translates ``source`` into ``target``:
    the pair is not installed, or the engine itself is missing."""

    code = "translation_unavailable"

    def __init__(self, message: str, *, source: str, target: str) -> None:
        super().__init__(message)
        self.source = source
        self.target = target


class TranslationFailed(CentralError):
    """The engine was there but did not produce a translation: it timed out,
    exited with an error, or wrote more than allowed."""

    code = "translation_failed"

    def __init__(self, message: str, *, source: str, target: str) -> None:
        super().__init__(message)
        self.source = source
        self.target = target


# -- the record ---------------------------------------------------------------


@dataclass(frozen=True)
class Translation:
    """What a reviewer is shown beside the original of a message."""

    original: str
    source_language: str | None  # ISO 639-1 as detected ("es"); None if undetermined
    target_language: str  # the facility's working language ("en")
    text: str | None  # the translation; None when unavailable or not needed
    engine: str | None  # what translated it ("apertium spa-eng"); None without a translation
    status: TranslationStatus
    note: str  # one sentence for the reviewer


# -- detection ----------------------------------------------------------------


class LanguageDetector:
    """Names the language of a text among a fixed set, offline (lingua).

    The lingua detector is built on the first :meth:`detect` and kept; its
    language models load then (about a second for the default languages).
    Safe to share between threads.
    """

    def __init__(
        self,
        languages: Sequence[str] = DEFAULT_LANGUAGES,
        *,
        min_confidence: float = 0.5,
        min_lead: float = 2.0,
        min_letters: int = 3,
    ) -> None:
        """``languages`` are ISO 639-1 codes lingua supports. A text is given a
        language only if it has at least ``min_letters`` letters and lingua's
        confidence in its best guess is at least ``min_confidence`` or at
        least ``min_lead`` times its confidence in the runner-up (short texts
        spread lingua's confidence thin).

        Raises ValueError for an unknown or unsupported code, fewer than two
        languages, or a threshold out of range.
        """
        codes = tuple(dict.fromkeys(code.strip().lower() for code in languages))
        for code in codes:
            if not _ISO_639_1.fullmatch(code):
                raise ValueError(f"not an ISO 639-1 language code: {code!r}")
            try:
                IsoCode639_1.from_str(code)
            except ValueError as e:
                raise ValueError(f"lingua cannot detect the language {code!r}") from e
        if len(codes) < 2:
            raise ValueError(f"at least two languages are needed to choose between, got {codes}")
        if not 0.0 < min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in (0, 1], got {min_confidence}")
        if not min_lead > 1.0:
            raise ValueError(f"min_lead must be more than 1, got {min_lead}")
        if min_letters < 1:
            raise ValueError(f"min_letters must be at least 1, got {min_letters}")
        self.languages: tuple[str, ...] = codes
        self.min_confidence = min_confidence
        self.min_lead = min_lead
        self.min_letters = min_letters
        self._lock = threading.Lock()
        self._detector: _LinguaDetector | None = None

    def _lingua(self) -> _LinguaDetector:
        with self._lock:
            if self._detector is None:
                isos = [IsoCode639_1.from_str(code) for code in self.languages]
                self._detector = LanguageDetectorBuilder.from_iso_codes_639_1(*isos).build()
            return self._detector

    def detect(self, text: str) -> str | None:
        """The ISO 639-1 code of ``text``'s language, or None when it has too
        few letters or no language is likely enough. Only the first
        MAX_TEXT_CHARS characters are looked at. Raises nothing.
        """
        sample = text[:MAX_TEXT_CHARS]
        if sum(1 for ch in sample if ch.isalpha()) < self.min_letters:
            return None
        confidences = self._lingua().compute_language_confidence_values(sample)
        if not confidences:
            return None
        best = confidences[0].value
        runner_up = confidences[1].value if len(confidences) > 1 else 0.0
        if best <= 0.0 or (best < self.min_confidence and best < self.min_lead * runner_up):
            return None
        return confidences[0].language.iso_code_639_1.name.lower()


# -- translation engines ------------------------------------------------------


class Translator(Protocol):
    """A translation engine."""

    def pairs(self) -> frozenset[tuple[str, str]]:
        """The (source, target) ISO 639-1 pairs this engine can translate.
        Raises nothing: an engine that is not there has no pairs."""
        ...

    def engine(self, source: str, target: str) -> str:
        """What translates ``source`` into ``target``, for the record
        ("apertium spa-eng"). Raises nothing."""
        ...

    def translate(self, text: str, source: str, target: str) -> str:
        """``text`` translated from ``source`` into ``target``.

        Raises InvalidInput for text longer than MAX_TEXT_CHARS,
        TranslationUnavailable when the pair or the engine is not there, and
        TranslationFailed when the engine does not produce a translation.
        """
        ...


@dataclass(frozen=True)
class _Run:
    """How a bounded subprocess run ended."""

    returncode: int | None  # None when it was killed
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    overflowed: bool = False


def _run_bounded(
    argv: Sequence[str], data: bytes, *, timeout: float, max_output: int, max_stderr: int
) -> _Run:
    """Run ``argv`` (no shell) with ``data`` on its stdin.

    Stops it, with everything it started, when it runs past ``timeout``
    seconds or writes more than ``max_output`` bytes; keeps at most
    ``max_stderr`` bytes of its stderr. Raises OSError if it cannot start.
    """
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so a kill reaches the whole pipeline
    ) as proc:
        try:
            run = _exchange(proc, data, timeout=timeout, max_output=max_output,
                            max_stderr=max_stderr)
        except BaseException:
            _kill_group(proc)
            raise
        if run.returncode is None:
            _kill_group(proc)
        return run


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The leader has not been waited for yet, so its pid still names its group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _exchange(
    proc: subprocess.Popen[bytes], data: bytes, *, timeout: float, max_output: int,
    max_stderr: int,
) -> _Run:
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout
    stdin, stdout = proc.stdin, proc.stdout
    out = bytearray()
    err = bytearray()
    written = 0
    chunk = getattr(select, "PIPE_BUF", 512)
    with selectors.DefaultSelector() as selector:
        if data:
            os.set_blocking(stdin.fileno(), False)
            selector.register(stdin, selectors.EVENT_WRITE)
        else:
            stdin.close()
        selector.register(stdout, selectors.EVENT_READ)
        selector.register(proc.stderr, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _Run(None, bytes(out), bytes(err), timed_out=True)
            for key, _events in selector.select(remaining):
                if key.fileobj is stdin:
                    try:
                        written += os.write(key.fd, data[written:written + chunk])
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        written = len(data)  # it stopped reading; its exit status will tell
                    if written >= len(data):
                        selector.unregister(stdin)
                        stdin.close()
                    continue
                piece = os.read(key.fd, 65536)
                if not piece:
                    selector.unregister(key.fileobj)
                elif key.fileobj is stdout:
                    out += piece
                    if len(out) > max_output:
                        return _Run(None, bytes(out[:max_output]), bytes(err), overflowed=True)
                else:
                    err += piece[: max(0, max_stderr - len(err))]
    try:
        returncode = proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return _Run(None, bytes(out), bytes(err), timed_out=True)
    return _Run(returncode, bytes(out), bytes(err))


def _first_line(*streams: bytes) -> str:
    for stream in streams:
        for line in stream.decode("utf-8", "replace").splitlines():
            if line.strip():
                return line.strip()[:300]
    return "no message"


def strip_unknown_word_marks(translation: str, original: str) -> str:
    """``translation`` without Apertium's marks for words it could not handle
    ('*' unknown, '@' not in the bilingual dictionary, '#' not generated),
    which it puts in front of a word. A mark character that also occurs in
    ``original`` is kept, since it may be the sender's own (a #hashtag).
    """
    marks = "".join(mark for mark in "*@#" if mark not in original)
    if not marks:
        return translation
    return re.sub(rf"(?<!\w)[{re.escape(marks)}]+(?=\w)", "", translation)


class ApertiumTranslator:
    """Translates with the Apertium engine installed on this server.

    Its language pairs are the modes in ``modes_dir`` (Debian's packages put
    them in /usr/share/apertium/modes), looked up once and kept: restart
    the process after installing a pair. Each translation runs
    ``apertium -u -f txt -d <data dir> <mode>`` as a subprocess, without a
    shell, with the text on its stdin.
    """

    def __init__(
        self, executable: str = "apertium", modes_dir: Path | None = None, timeout: float = 20.0
    ) -> None:
        """``executable`` is a name looked up on PATH, or a path; ``modes_dir``
        must be the ``modes`` directory inside Apertium's data directory.

        Raises ValueError for a ``modes_dir`` not named ``modes`` or a
        timeout that is not positive.
        """
        modes_dir = DEFAULT_MODES_DIR if modes_dir is None else Path(modes_dir)
        if modes_dir.name != "modes":
            raise ValueError(f"modes_dir must be Apertium's 'modes' directory, got {modes_dir}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.executable = executable
        self.modes_dir = modes_dir
        self.timeout = timeout
        self._lock = threading.Lock()
        self._found: tuple[str | None, dict[tuple[str, str], str]] | None = None

    def _discover(self) -> tuple[str | None, dict[tuple[str, str], str]]:
        """The executable's path and the installed modes by pair, looked up once."""
        with self._lock:
            if self._found is None:
                self._found = self._look_up()
            return self._found

    def _look_up(self) -> tuple[str | None, dict[tuple[str, str], str]]:
        path = shutil.which(self.executable)
        if path is None:
            log.warning("no translation: the Apertium executable %r was not found",
                        self.executable)
            return None, {}
        try:
            names = sorted(entry.stem for entry in self.modes_dir.iterdir()
                           if entry.suffix == ".mode" and entry.is_file())
        except OSError as e:
            log.warning("no translation: cannot list Apertium's modes in %s: %s",
                        self.modes_dir, e)
            return path, {}
        modes: dict[tuple[str, str], str] = {}
        for name in names:
            match = _MODE_NAME.fullmatch(name)  # "spa-eng"; not variants like "spa-eng_US"
            if match is None:
                continue
            source, target = (_iso_639_1(code) for code in match.groups())
            if source is None or target is None or source == target:
                log.debug("Apertium mode %s is not offered: unknown language code", name)
                continue
            modes.setdefault((source, target), name)
        log.info("Apertium %s translates: %s", path,
                 ", ".join(f"{s}->{t} ({m})" for (s, t), m in sorted(modes.items())) or "nothing")
        return path, modes

    def pairs(self) -> frozenset[tuple[str, str]]:
        """The installed pairs; empty when Apertium is not installed. Raises nothing."""
        return frozenset(self._discover()[1])

    def engine(self, source: str, target: str) -> str:
        """The mode that translates the pair, as "apertium spa-eng". Raises nothing."""
        mode = self._discover()[1].get((source, target), f"{source}-{target}")
        return f"apertium {mode}"

    def translate(self, text: str, source: str, target: str) -> str:
        """``text`` translated from ``source`` into ``target``, without
        Apertium's unknown-word marks; whitespace alone comes back as "".

        Raises InvalidInput for text over MAX_TEXT_CHARS; TranslationUnavailable
        when Apertium or this pair is not installed; TranslationFailed when
        Apertium runs past the timeout, exits with an error (its first line
        of stderr in the message), writes more than MAX_OUTPUT_BYTES, or
        writes nothing.
        """
        _check_length(text)
        path, modes = self._discover()
        if path is None:
            raise TranslationUnavailable(
                f"Apertium is not installed (no {self.executable!r} found)",
                source=source, target=target)
        mode = modes.get((source, target))
        if mode is None:
            raise TranslationUnavailable(
                f"no Apertium pair from {source!r} to {target!r} is installed in {self.modes_dir}",
                source=source, target=target)
        if not text.strip():
            return ""
        argv = [path, "-u", "-f", "txt", "-d", str(self.modes_dir.parent), mode]
        data = _CONTROL_CHARS.sub(" ", text).encode("utf-8", "replace")
        try:
            run = _run_bounded(argv, data, timeout=self.timeout, max_output=MAX_OUTPUT_BYTES,
                               max_stderr=MAX_STDERR_BYTES)
        except (FileNotFoundError, PermissionError) as e:
            raise TranslationUnavailable(f"cannot run Apertium at {path}: {e}",
                                         source=source, target=target) from e
        except OSError as e:
            raise TranslationFailed(f"cannot run apertium {mode}: {e}",
                                    source=source, target=target) from e
        if run.timed_out:
            raise TranslationFailed(f"apertium {mode} timed out after {self.timeout:g} s",
                                    source=source, target=target)
        if run.overflowed:
            raise TranslationFailed(
                f"apertium {mode} wrote more than {MAX_OUTPUT_BYTES} bytes for "
                f"{len(data)} bytes of text", source=source, target=target)
        if run.returncode != 0:
            raise TranslationFailed(
                f"apertium {mode} exited with status {run.returncode}: "
                f"{_first_line(run.stderr, run.stdout)}", source=source, target=target)
        translation = strip_unknown_word_marks(
            run.stdout.decode("utf-8", "replace"), text).strip()
        if not translation:
            raise TranslationFailed(f"apertium {mode} wrote nothing", source=source,
                                    target=target)
        return translation


def _iso_639_1(apertium_code: str) -> str | None:
    if apertium_code in LANGUAGE_NAMES:
        return apertium_code
    return _APERTIUM_CODES.get(apertium_code)


# -- what a reviewer sees -----------------------------------------------------


class ReviewTranslator:
    """What a reviewer sees: detect, then translate to the working language,
    or say plainly why not."""

    def __init__(
        self,
        working_language: str = "en",
        detector: LanguageDetector | None = None,
        translator: Translator | None = None,
    ) -> None:
        """Uses ``LanguageDetector()`` and ``ApertiumTranslator()`` unless given
        others; neither does any I/O until the first message.

        Raises ValueError when the detector cannot detect ``working_language``.
        """
        self.detector = LanguageDetector() if detector is None else detector
        self.translator: Translator = ApertiumTranslator() if translator is None else translator
        if working_language not in self.detector.languages:
            raise ValueError(
                f"the working language {working_language!r} is not among the detector's "
                f"languages {self.detector.languages}")
        self.working_language = working_language

    def for_reviewer(self, text: str) -> Translation:
        """The message ``text`` as a reviewer should see it.

        Raises InvalidInput for text over MAX_TEXT_CHARS, and nothing for a
        language that cannot be told or translated: the record's status and
        note say so.
        """
        _check_length(text)
        target = self.working_language
        target_name = language_name(target)

        def record(source: str | None, status: TranslationStatus, note: str,
                   translated: str | None = None, engine: str | None = None) -> Translation:
            return Translation(original=text, source_language=source, target_language=target,
                               text=translated, engine=engine, status=status, note=note)

        source = self.detector.detect(text)
        if source is None:
            return record(None, UNDETERMINED,
                          "The language of this message could not be determined, so it was "
                          "not translated.")
        source_name = language_name(source)
        if source == target:
            return record(source, SAME_LANGUAGE,
                          f"This message is in {target_name}; no translation is needed.")
        if (source, target) not in self.translator.pairs():
            return record(source, UNAVAILABLE,
                          f"No translation available from {source_name} to {target_name} "
                          "on this server.")
        try:
            translated = self.translator.translate(text, source, target)
        except TranslationUnavailable as e:
            log.warning("no translation from %s to %s: %s", source, target, e.message)
            return record(source, UNAVAILABLE,
                          f"No translation available from {source_name} to {target_name} "
                          "on this server.")
        except TranslationFailed as e:
            log.warning("translation from %s to %s failed: %s", source, target, e.message)
            return record(source, UNAVAILABLE,
                          f"The machine translation from {source_name} to {target_name} "
                          f"failed ({e.message}); only the original is shown.")
        return record(source, TRANSLATED,
                      f"Machine translation from {source_name} to {target_name}; it may be "
                      "inaccurate, and the original is authoritative.",
                      translated, self.translator.engine(source, target))
