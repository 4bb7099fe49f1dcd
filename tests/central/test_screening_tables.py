"""The screening's Unicode table is what its script makes of the vendored
Unicode data, byte for byte, and the data is the release it says it is."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from central import screening_tables

ROOT = Path(__file__).resolve().parents[2]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_screening_tables", ROOT / "scripts" / "make_screening_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_regenerating_the_table_gives_the_committed_bytes() -> None:
    made = generator()
    committed = (ROOT / "central" / "screening_tables.py").read_text(encoding="utf-8")
    assert made.render(made.read()) == committed


def test_the_vendored_data_is_one_unicode_release_with_its_license() -> None:
    data = ROOT / "scripts" / "unicode"
    assert "# Version: 17.0.0" in (data / "confusables.txt").read_text(encoding="utf-8")
    assert (data / "DerivedCoreProperties.txt").read_text(encoding="utf-8").startswith(
        "# DerivedCoreProperties-17.0.0.txt")
    assert "UNICODE LICENSE V3" in (data / "LICENSE").read_text(encoding="utf-8")
    assert screening_tables.UNICODE_VERSION == "17.0.0"


def test_the_fillers_are_in_the_ignorable_set() -> None:
    ignorable = {code for first, last in screening_tables.IGNORABLE
                 for code in range(first, last + 1)}
    for code in (0x3164, 0x115F, 0x1160, 0xFFA0, 0x200B, 0x200D, 0x2060, 0x034F, 0xFE0F,
                 0x00AD, 0x202E, 0xE0041):
        assert code in ignorable, hex(code)
    for code in (0x0020, 0x00A0, 0x2800, 0x0041):  # spaces and letters render as something
        assert code not in ignorable, hex(code)
