"""Why staff withhold a message or a part of one: the fixed list of reason
codes, with the words families and residents read, in English and Spanish.

A reviewer picks a code; the code travels in notices and feed records, and
each side reads its wording in its own language. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from central.errors import InvalidInput

LANGUAGES = ("en", "es")


@dataclass(frozen=True)
class Reason:
    code: str
    en: str
    es: str

    def wording(self, language: str) -> str:
        """The reason in ``language`` (English for a language not listed)."""
        return self.es if language == "es" else self.en

    def both(self) -> dict[str, str]:
        return {"en": self.en, "es": self.es}


REASONS: dict[str, Reason] = {r.code: r for r in (
    Reason("threat", "It threatens someone's safety.",
           "Amenaza la seguridad de alguien."),
    Reason("contraband", "It is about drugs, weapons or other contraband.",
           "Trata de drogas, armas u otro contrabando."),
    Reason("escape", "It is about escape or the facility's security.",
           "Trata de una fuga o de la seguridad del centro."),
    Reason("gang", "It is about gang activity.",
           "Trata de actividades de pandillas."),
    Reason("sexual", "It has sexual content.",
           "Tiene contenido sexual."),
    Reason("victim", "It contacts a victim or a protected person.",
           "Contacta a una víctima o a una persona protegida."),
    Reason("coded", "It uses code or language staff cannot read.",
           "Usa claves o un idioma que el personal no puede leer."),
    Reason("rules", "It breaks the facility's messaging rules.",
           "Incumple las normas de mensajería del centro."),
    Reason("image_quality", "The photo or video cannot be made out.",
           "La foto o el video no se distingue."),
    Reason("identifying", "It shows another resident, a staff member or the facility.",
           "Muestra a otro residente, a un empleado o el centro."),
)}

# What a withheld part is called in a notice, in each language.
PART_NAMES = {
    "text": {"en": "the text", "es": "el texto"},
    "photo": {"en": "photo", "es": "la foto"},
    "videogram": {"en": "videogram", "es": "el videograma"},
}


def reason(code: str | None) -> Reason:
    """The reason with ``code``. Raises InvalidInput (code ``bad_reason``)
    naming the codes there are."""
    found = REASONS.get(code or "")
    if found is None:
        raise InvalidInput(f"a rejection needs a reason code: {', '.join(REASONS)}"
                           f" (not {code!r})", code="bad_reason")
    return found


def part_name(kind: str, position: int | None, language: str) -> str:
    """'photo 2' / 'la foto 2' for an attachment (positions count from 1 for
    people), 'the text' / 'el texto' for the text."""
    lang = language if language in LANGUAGES else "en"
    name = PART_NAMES.get(kind, PART_NAMES["photo"])[lang]
    return name if position is None else f"{name} {position + 1}"
