"""Imports point down the layers DESIGN.md gives, never up, and never in a circle."""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["base", "device_security", "hw", "sync", "central", "kiosk", "tablet",
            "firmware_images", "simulators", "devkit", "sallyport"]
PRODUCT = {"base", "device_security", "hw", "sync", "central", "kiosk", "tablet",
           "firmware_images"}
# What each package may import of ours (besides itself).
ALLOWED = {
    "base": set(),
    "device_security": {"base"},
    "hw": {"base"},
    "sync": {"base", "device_security", "hw"},
    "central": {"base", "device_security", "sync", "firmware_images"},
    "kiosk": {"base", "device_security", "hw", "sync", "firmware_images"},
    "tablet": {"base", "device_security", "hw", "sync", "firmware_images"},
    "firmware_images": {"base", "device_security", "hw", "sync"},
    # the simulators and the developer kit build whole worlds from every part
    "simulators": set(PACKAGES) - {"simulators", "devkit", "sallyport"},
    "devkit": set(PACKAGES) - {"devkit", "sallyport"},
    "sallyport": set(PACKAGES) - {"sallyport"},  # the command line puts the parts together
}
# Third-party libraries the bottom layers must not use.
FORBIDDEN_THIRD_PARTY = {
    package: {"kivy", "fastapi", "starlette", "requests", "uvicorn", "sqlalchemy"}
    for package in ("base", "device_security", "hw", "sync")
}


def imports_of(path: Path) -> set[str]:
    """The modules ``path`` imports, dotted, wherever in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_layers(package: str) -> None:
    ours = set(PACKAGES)
    for path in sorted((ROOT / package).rglob("*.py")):
        used = {name.split(".")[0] for name in imports_of(path)}
        upward = (used & ours) - ALLOWED[package] - {package}
        assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)}"
        banned = used & FORBIDDEN_THIRD_PARTY.get(package, set())
        assert not banned, f"{path.relative_to(ROOT)} imports {sorted(banned)}"


def test_the_layers_allow_no_circle() -> None:
    """The rule itself has no cycle: no two packages may import each other."""
    for package, allowed in ALLOWED.items():
        for other in allowed:
            assert package not in ALLOWED[other], f"{package} <-> {other}"


def test_no_module_imports_itself_in_a_circle() -> None:
    """Between modules, too, imports form no cycle (a function's import included)."""
    modules = product_modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for used in imports_of(path):
            # ``from a.b import c`` names module a.b.c when there is one, else a.b
            target = used if used in modules else used.rpartition(".")[0]
            if target in modules and target != name:
                graph[name].add(target)
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                cycle = [*path[path.index(nxt):], nxt]
                raise AssertionError("an import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for node in sorted(modules):
        if node not in seen:
            visit(node, [node])


def test_no_product_package_imports_the_tools() -> None:
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            used = {name.split(".")[0] for name in imports_of(path)}
            assert not used & {"simulators", "devkit", "sallyport"}, path


def test_sallyport_is_the_command_line_only() -> None:
    names = {path.name for path in (ROOT / "sallyport").glob("*.py")}
    assert names <= {"__init__.py", "__main__.py", "cli.py", "device_cli.py"}, names


def test_every_package_is_typed() -> None:
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").exists(), package
