"""Language detection and translation for reviewers, on the real lingua models
and the real Apertium engine; failures come from small executables written
here that stand where Apertium would."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from central.errors import CentralError, InvalidInput
from central.translation import (
    MAX_TEXT_CHARS,
    SAME_LANGUAGE,
    TRANSLATED,
    UNAVAILABLE,
    UNDETERMINED,
    ApertiumTranslator,
    LanguageDetector,
    ReviewTranslator,
    TranslationFailed,
    TranslationUnavailable,
    strip_unknown_word_marks,
)

SPANISH = "Necesito hablar con mi abogado sobre la audiencia del lunes."
ENGLISH = "Hi mom, I miss you. Please put money on my account."
FRENCH = "Bonjour maman, tu me manques beaucoup. J'espère te voir bientôt."
VIETNAMESE = "Chào mẹ, con nhớ mẹ nhiều lắm. Hẹn gặp lại mẹ sớm."


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


@pytest.fixture(scope="module")
def apertium() -> ApertiumTranslator:
    translator = ApertiumTranslator()
    if not {("es", "en"), ("en", "es")} <= translator.pairs():
        pytest.fail("these tests need Apertium with apertium-eng-spa; run scripts/system-deps.sh",
                    pytrace=False)
    return translator


@pytest.fixture
def reviewer(detector: LanguageDetector, apertium: ApertiumTranslator) -> ReviewTranslator:
    return ReviewTranslator("en", detector, apertium)


def stand_in_apertium(tmp_path: Path, script: str, timeout: float = 5.0) -> ApertiumTranslator:
    """An ApertiumTranslator whose executable is ``script`` (sh) and whose only
    installed mode is spa-eng."""
    modes = tmp_path / "apertium" / "modes"
    modes.mkdir(parents=True)
    (modes / "spa-eng.mode").write_text("cat\n")
    executable = tmp_path / "bin" / "apertium"
    executable.parent.mkdir()
    executable.write_text(f"#!/bin/sh\n{script}\n")
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    return ApertiumTranslator(str(executable), modes_dir=modes, timeout=timeout)


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


class Glossary:
    """A translator that looks words up one by one: a Translator of its own."""

    def __init__(self, words: Mapping[str, str]) -> None:
        self.words = words

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset({("es", "en")})

    def engine(self, source: str, target: str) -> str:
        return f"glossary {source}-{target}"

    def translate(self, text: str, source: str, target: str) -> str:
        if (source, target) not in self.pairs():
            raise TranslationUnavailable("not in the glossary", source=source, target=target)
        return " ".join(self.words.get(word, word) for word in text.split())


# -- what a reviewer sees -----------------------------------------------------


def test_spanish_is_detected_and_translated_by_apertium(reviewer: ReviewTranslator) -> None:
    result = reviewer.for_reviewer(SPANISH)
    assert result.status == TRANSLATED
    assert (result.source_language, result.target_language) == ("es", "en")
    assert result.original == SPANISH
    assert result.engine == "apertium spa-eng"
    assert result.text is not None
    assert "lawyer" in result.text
    assert "Monday" in result.text
    assert "Spanish" in result.note
    assert "English" in result.note


def test_english_needs_no_translation(reviewer: ReviewTranslator) -> None:
    result = reviewer.for_reviewer(ENGLISH)
    assert result.status == SAME_LANGUAGE
    assert result.source_language == "en"
    assert result.text is None
    assert result.engine is None
    assert "English" in result.note


def test_a_spanish_speaking_facility_reads_english_in_spanish(
        detector: LanguageDetector, apertium: ApertiumTranslator) -> None:
    result = ReviewTranslator("es", detector, apertium).for_reviewer(
        "Please call my lawyer tomorrow.")
    assert result.status == TRANSLATED
    assert (result.source_language, result.target_language) == ("en", "es")
    assert result.engine == "apertium eng-spa"
    assert result.text is not None
    assert "abogado" in result.text
    assert "mañana" in result.text


@pytest.mark.parametrize(("text", "code", "name"), [
    (FRENCH, "fr", "French"),
    (VIETNAMESE, "vi", "Vietnamese"),
])
def test_a_language_without_an_installed_pair_is_unavailable(
        reviewer: ReviewTranslator, text: str, code: str, name: str) -> None:
    result = reviewer.for_reviewer(text)
    assert result.status == UNAVAILABLE
    assert result.source_language == code
    assert result.text is None
    assert result.engine is None
    assert result.note == f"No translation available from {name} to English on this server."


@pytest.mark.parametrize("text", [
    "", "   \n", "12345 678", "!!! ??? ...", "ok", "asdkjh qwpoeiru zxcmvn", "qwerty asdf zxcv",
    "zzzz",
])
def test_text_without_a_recognisable_language_is_undetermined(
        reviewer: ReviewTranslator, text: str) -> None:
    result = reviewer.for_reviewer(text)
    assert result.status == UNDETERMINED
    assert result.source_language is None
    assert result.text is None
    assert "could not be determined" in result.note


def test_text_over_the_bound_is_refused_before_any_engine_runs(
        tmp_path: Path, detector: LanguageDetector, apertium: ApertiumTranslator) -> None:
    failing = stand_in_apertium(tmp_path, "echo 'should not have run' >&2; exit 1")
    text = "hola " * (MAX_TEXT_CHARS // 5) + "!"
    with pytest.raises(InvalidInput, match=str(len(text))):
        ReviewTranslator("en", detector, failing).for_reviewer(text)
    with pytest.raises(InvalidInput):
        failing.translate(text, "es", "en")
    with pytest.raises(InvalidInput):
        apertium.translate(text, "es", "en")


def test_a_translator_of_our_own_making_is_used_through_the_protocol(
        detector: LanguageDetector) -> None:
    glossary = Glossary({"abogado": "lawyer", "lunes": "Monday"})
    result = ReviewTranslator("en", detector, glossary).for_reviewer(SPANISH)
    assert result.status == TRANSLATED
    assert result.engine == "glossary es-en"
    assert result.text is not None
    assert "lawyer" in result.text
    unavailable = ReviewTranslator("en", detector, glossary).for_reviewer(FRENCH)
    assert unavailable.status == UNAVAILABLE


# -- detection ----------------------------------------------------------------


@pytest.mark.parametrize(("text", "code"), [
    (SPANISH, "es"), (ENGLISH, "en"), (FRENCH, "fr"), (VIETNAMESE, "vi"),
    ("Olá mãe, tenho saudades de você.", "pt"), ("Привет, мама, я скучаю по тебе.", "ru"),
    ("مرحبا أمي، اشتقت إليك كثيرا", "ar"), ("妈妈我很想你", "zh"),
    ("엄마, 보고 싶어요.", "ko"), ("Send money please", "en"), ("Feliz cumpleaños", "es"),
])
def test_the_detector_names_languages_by_iso_639_1(
        detector: LanguageDetector, text: str, code: str) -> None:
    assert detector.detect(text) == code


@pytest.mark.parametrize("languages", [("en",), ("en", "ht"), ("en", "english"), ("en", "")])
def test_the_detector_refuses_languages_it_cannot_tell_apart(languages: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="language"):
        LanguageDetector(languages)


def test_the_working_language_must_be_detectable(detector: LanguageDetector) -> None:
    with pytest.raises(ValueError, match="'de'"):
        ReviewTranslator("de", detector, Glossary({}))


# -- Apertium -----------------------------------------------------------------


def test_apertium_offers_its_installed_modes_as_iso_639_1_pairs(
        apertium: ApertiumTranslator) -> None:
    pairs = apertium.pairs()
    assert {("es", "en"), ("en", "es")} <= pairs
    assert all(len(source) == 2 and len(target) == 2 for source, target in pairs)
    assert apertium.engine("es", "en") == "apertium spa-eng"


def test_apertium_unknown_words_come_out_without_marks(apertium: ApertiumTranslator) -> None:
    translation = apertium.translate("Me cae bien el vato, órale carnal.", "es", "en")
    assert "vato" in translation
    assert "carnal" in translation
    assert not any(mark in translation for mark in "*@#")


def test_control_characters_do_not_cut_a_translation_short(apertium: ApertiumTranslator) -> None:
    assert apertium.translate("hola\x00amigo", "es", "en") == "hello Fellow"


def test_apertium_refuses_a_pair_it_does_not_have(apertium: ApertiumTranslator) -> None:
    with pytest.raises(TranslationUnavailable, match="'fr'") as caught:
        apertium.translate(FRENCH, "fr", "en")
    assert (caught.value.source, caught.value.target) == ("fr", "en")
    assert caught.value.code == "translation_unavailable"
    assert isinstance(caught.value, CentralError)


def test_a_missing_apertium_has_no_pairs_and_reviewers_are_told(
        tmp_path: Path, detector: LanguageDetector) -> None:
    missing = ApertiumTranslator(str(tmp_path / "no-such-apertium"))
    assert missing.pairs() == frozenset()
    with pytest.raises(TranslationUnavailable, match="not installed"):
        missing.translate(SPANISH, "es", "en")
    result = ReviewTranslator("en", detector, missing).for_reviewer(SPANISH)
    assert result.status == UNAVAILABLE
    assert result.source_language == "es"
    assert result.note == "No translation available from Spanish to English on this server."


def test_apertium_without_its_modes_directory_has_no_pairs(tmp_path: Path) -> None:
    assert ApertiumTranslator(modes_dir=tmp_path / "modes").pairs() == frozenset()


def test_a_hanging_engine_is_stopped_with_everything_it_started(
        tmp_path: Path, detector: LanguageDetector) -> None:
    pid_file = tmp_path / "sleeper.pid"
    hanging = stand_in_apertium(tmp_path, f"sleep 30 & echo $! > {pid_file}; wait",
                                timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TranslationFailed, match=r"apertium spa-eng timed out after 0\.3 s"):
        hanging.translate(SPANISH, "es", "en")
    assert time.monotonic() - started < 5
    sleeper = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while not process_gone(sleeper) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process_gone(sleeper)

    result = ReviewTranslator("en", detector, hanging).for_reviewer(SPANISH)
    assert result.status == UNAVAILABLE
    assert result.text is None
    assert "Spanish to English failed" in result.note
    assert "timed out" in result.note


def test_an_engine_error_is_reported_with_its_first_line_of_stderr(
        tmp_path: Path, detector: LanguageDetector) -> None:
    failing = stand_in_apertium(
        tmp_path, "echo 'lt-proc: cannot open spa-eng.automorf.bin' >&2; echo more >&2; exit 1")
    with pytest.raises(TranslationFailed,
                       match=r"exited with status 1: lt-proc: cannot open spa-eng\.automorf\.bin$"):
        failing.translate(SPANISH, "es", "en")
    result = ReviewTranslator("en", detector, failing).for_reviewer(SPANISH)
    assert result.status == UNAVAILABLE
    assert "lt-proc: cannot open spa-eng.automorf.bin" in result.note


def test_an_engine_that_writes_without_end_is_stopped(tmp_path: Path) -> None:
    flooding = stand_in_apertium(tmp_path, "yes 'hello world'")
    with pytest.raises(TranslationFailed, match="wrote more than"):
        flooding.translate(SPANISH, "es", "en")


def test_an_engine_that_writes_nothing_has_failed(tmp_path: Path) -> None:
    silent = stand_in_apertium(tmp_path, "cat > /dev/null")
    with pytest.raises(TranslationFailed, match="wrote nothing"):
        silent.translate(SPANISH, "es", "en")


def test_the_engine_reads_the_whole_text_on_its_stdin(tmp_path: Path) -> None:
    echo = stand_in_apertium(tmp_path, "cat")
    text = ("Línea con acentos: ñandú, pingüino.\n" * 500)[:MAX_TEXT_CHARS]
    assert echo.translate(text, "es", "en") == text.strip()


def test_unknown_word_marks_are_stripped_from_the_engine_output(tmp_path: Path) -> None:
    marking = stand_in_apertium(
        tmp_path, "cat > /dev/null; echo 'Hello *vato, @carnal and #dog (*órale) user@example.com'")
    assert marking.translate("hola vato carnal perro", "es", "en") == (
        "Hello vato, carnal and dog (órale) user@example.com")


@pytest.mark.parametrize(("translation", "original", "expected"), [
    ("the *vato and **carnal", "el vato", "the vato and carnal"),
    ("see #Liberty", "ver #libertad", "see #Liberty"),  # the sender's own hashtag
    ("ask @*juan", "pregunta a @juan", "ask @juan"),
    ("mail a@b.example, 5 * 3", "correo", "mail a@b.example, 5 * 3"),
    ("¿*Qué #pasa?", "¿Qué pasa?", "¿Qué pasa?"),
])
def test_marks_are_stripped_only_where_the_sender_did_not_type_them(
        translation: str, original: str, expected: str) -> None:
    assert strip_unknown_word_marks(translation, original) == expected


def test_constructors_check_their_arguments_without_touching_the_system() -> None:
    ApertiumTranslator("/nonexistent/apertium")  # nothing looked up yet
    with pytest.raises(ValueError, match="modes"):
        ApertiumTranslator(modes_dir=Path("/usr/share/apertium"))
    with pytest.raises(ValueError, match="timeout"):
        ApertiumTranslator(timeout=0)
    assert os.path.basename(ApertiumTranslator().modes_dir) == "modes"
