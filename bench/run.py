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


def main() -> int:
    figures: dict[str, dict[str, float | str]] = {}
    notes: dict[str, str] = {}
    for path in sorted((ROOT / "bench").glob("bench_*.py")):
        module = importlib.import_module(f"bench.{path.stem}")
        print(f"running {path.stem} ...", flush=True)
        for name, (value, unit, note) in module.run().items():
            figures[name] = {"value": round(value, 3), "unit": unit}
            notes[name] = note
    results = {
        "commit": commit(),
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "figures": figures,
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
    doc = ROOT / "docs" / "benchmarks.md"
    # The sections after the table (how each benchmark measures) are kept as written.
    old = doc.read_text() if doc.exists() else ""
    methods = old[old.index("\n## "):] if "\n## " in old else ""
    doc.write_text(
        "# Benchmarks\n\n"
        "The latest `make bench` run; `bench/results.json` has the same figures for the\n"
        "machine that ran it. Ratios compare figures measured in the same run.\n\n"
        f"Measured {results['measured_at']} at commit `{str(results['commit'])[:12]}` on:\n"
        f"{machine()}.\n\n{table}\n{methods}")
    print(f"\nwrote bench/results.json and {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
