"""Run every benchmark in bench/, print a table, write bench/results.json and
docs/benchmarks.md. Benchmarks are never part of `make test`."""

from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def commit() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT, check=False)
    return result.stdout.strip() or "unknown"


def _kept(doc: Path) -> tuple[dict[str, dict[str, float | str]], dict[str, str]]:
    """The figures of the last runs (bench/results.json) with their notes."""
    path = ROOT / "bench" / "results.json"
    if not path.exists():
        return {}, {}
    old = json.loads(path.read_text())
    figures: dict[str, dict[str, float | str]] = {}
    for name, figure in old.get("figures", {}).items():
        figure.setdefault("measured_at", old.get("measured_at", ""))
        figure.setdefault("commit", old.get("commit", ""))
        figures[name] = figure
    notes = {name: str(f.pop("note")) for name, f in figures.items() if "note" in f}
    # notes of results written before they were kept there: the document's table
    text = doc.read_text() if doc.exists() else ""
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(" | ")]
        if line.startswith("| ") and len(cells) >= 4 and cells[0][2:] in figures:
            notes.setdefault(cells[0][2:], " | ".join(cells[3:]).rstrip(" |"))
    return figures, notes


def main(argv: list[str]) -> int:
    """``bench/run.py`` runs every benchmark; ``bench/run.py screening report``
    runs bench_screening.py and bench_report.py and keeps the other figures of
    the last run, each with the time and commit it was measured at."""
    doc = ROOT / "docs" / "benchmarks.md"
    chosen = {f"bench_{a.removeprefix('bench_').removesuffix('.py')}" for a in argv}
    paths = [p for p in sorted((ROOT / "bench").glob("bench_*.py"))
             if not chosen or p.stem in chosen]
    if chosen - {p.stem for p in paths}:
        print(f"no benchmark {', '.join(sorted(chosen - {p.stem for p in paths}))}; "
              f"there are: {', '.join(p.stem for p in sorted(ROOT.glob('bench/bench_*.py')))}")
        return 2
    figures, notes = _kept(doc) if chosen else ({}, {})
    at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    head = commit()
    for path in paths:
        module = importlib.import_module(f"bench.{path.stem}")
        print(f"running {path.stem} ...", flush=True)
        for name, (value, unit, note) in module.run().items():
            figures[name] = {"value": round(value, 3), "unit": unit, "measured_at": at,
                             "commit": head}
            notes[name] = note
    figures = dict(sorted(figures.items()))
    results = {
        "commit": head,
        "measured_at": at,
        "figures": {name: {**f, "note": notes.get(name, "")} for name, f in figures.items()},
    }
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    width = max(len(n) for n in figures)
    lines = [f"| {'figure'.ljust(width)} | value | unit | what it is |",
             f"|{'-' * (width + 2)}|------:|------|------------|"]
    for name, figure in figures.items():
        lines.append(f"| {name.ljust(width)} | {figure['value']} | {figure['unit']} "
                     f"| {notes[name]} |")
    table = "\n".join(lines)
    print()
    print(table)
    # The sections after the table (how each benchmark measures) are kept as written.
    old = doc.read_text() if doc.exists() else ""
    methods = old[old.index("\n## "):] if "\n## " in old else ""
    times = sorted({str(f["measured_at"]) for f in figures.values()})
    commits = sorted({str(f["commit"])[:12] for f in figures.values()})
    when = (f"Measured {times[0]} at commit `{commits[0]}`" if len(times) == 1
            and len(commits) == 1 else
            f"Measured from {times[0]} to {times[-1]} at commits "
            f"{', '.join(f'`{c}`' for c in commits)} (each figure's time and commit are in "
            "bench/results.json)")
    doc.write_text(
        "# Benchmarks\n\n"
        "The latest `make bench` run; `bench/results.json` has the same figures for the\n"
        "machine that ran it. Ratios compare figures measured in the same run.\n\n"
        f"{when} on:\n{machine()}.\n\n{table}\n{methods}")
    print(f"\nwrote bench/results.json and {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
