"""Reading aloud with the real espeak-ng: it writes a WAV that grows with the
text, in the language's voice; it runs in a process of its own that stop()
ends; a missing espeak-ng is a clear error, not a crash."""

from __future__ import annotations

import os
import select
import wave
from pathlib import Path

import pytest

from tablet.speech import MAX_SPOKEN_CHARS, Speaker, SpeechUnavailable, command, voice_for

SHORT = "Hello Marcus."
LONG = ("Hello Marcus. The garden is finally blooming, the tomatoes are red and your "
        "nephew says hi. We will come and see you on Sunday. Love, Mom.")


def frames(path: Path) -> int:
    with wave.open(str(path)) as w:
        return w.getnframes()


def spoken(tmp_path: Path, text: str, language: str, name: str) -> Path:
    wav = tmp_path / f"{name}.wav"
    speaker = Speaker(wav=wav)
    speaker.say(text, language)
    assert speaker.wait(60) == 0
    return wav


def test_the_wav_is_sound_and_grows_with_the_text(tmp_path: Path) -> None:
    short, long = spoken(tmp_path, SHORT, "en", "short"), spoken(tmp_path, LONG, "en", "long")
    assert frames(short) > 0
    assert frames(long) > 3 * frames(short)


def test_spanish_is_read_with_the_spanish_voice(tmp_path: Path) -> None:
    text = "Hola Marcus. El jardín por fin está florecido."
    spanish, english = spoken(tmp_path, text, "es", "es"), spoken(tmp_path, text, "en", "en")
    assert frames(spanish) > 0
    assert spanish.read_bytes() != english.read_bytes()
    assert voice_for("es") in command("es") and voice_for("en") in command("en")
    with pytest.raises(ValueError, match="no voice for 'fr'"):
        voice_for("fr")


def test_speech_runs_apart_and_stop_ends_it(tmp_path: Path) -> None:
    heard, out = os.pipe()  # nobody reads yet: espeak-ng waits, as for a sound card
    try:
        speaker = Speaker(stream=out)
        speaker.say(LONG * 5, "en")  # returns at once
        assert select.select([heard], [], [], 60)[0], "no sound within a minute"
        assert os.read(heard, 4) == b"RIFF"
        pid = speaker.pid
        assert pid is not None and speaker.speaking
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert Path(cmdline[0].decode()).name == "espeak-ng"
        assert LONG.encode()[:20] not in b" ".join(cmdline)  # the text goes on stdin
        speaker.say(SHORT, "en")  # something new stops what was said
        assert speaker.pid != pid
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
        speaker.stop()
        assert not speaker.speaking and speaker.pid is None
        speaker.stop()  # twice: nothing to stop
    finally:
        os.close(heard)
        os.close(out)


def test_a_missing_espeak_ng_is_a_clear_error(tmp_path: Path) -> None:
    speaker = Speaker(str(tmp_path / "espeak-ng"))
    with pytest.raises(SpeechUnavailable, match="espeak-ng is not installed") as caught:
        speaker.say(SHORT, "en")
    assert caught.value.program.endswith("espeak-ng")
    assert not speaker.speaking


def test_a_very_long_text_is_cut_not_refused(tmp_path: Path) -> None:
    wav = tmp_path / "long.wav"
    speaker = Speaker(wav=wav, words_per_minute=450)
    speaker.say("a " * (MAX_SPOKEN_CHARS * 2), "en")
    speaker.stop()  # a long text is stopped without waiting for it
    assert not speaker.speaking
