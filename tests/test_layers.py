"""Imports point down the layers DESIGN.md gives, never up."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["device_security", "hw", "sync", "central", "kiosk", "tablet", "firmware_images",
            "simulators", "sallyport"]
# What each package may import of ours (besides itself).
ALLOWED = {
    "device_security": set(),
    "hw": set(),
    "sync": {"device_security", "hw"},
    "central": {"device_security", "sync", "sallyport"},
    "kiosk": {"device_security", "hw", "sync", "sallyport"},
    "tablet": {"device_security", "hw", "sync", "sallyport"},
    "firmware_images": {"device_security", "hw", "sync"},
    "simulators": set(PACKAGES),
    "sallyport": set(PACKAGES),  # the command line: where the parts are put together
}
# Third-party libraries the bottom layers must not use.
FORBIDDEN_THIRD_PARTY = {
    "device_security": {"kivy", "fastapi", "starlette", "requests", "uvicorn", "sqlalchemy"},
    "hw": {"kivy", "fastapi", "starlette", "requests", "uvicorn", "sqlalchemy"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_layers(package: str) -> None:
    ours = set(PACKAGES)
    for path in sorted((ROOT / package).rglob("*.py")):
        used = imports_of(path)
        upward = (used & ours) - ALLOWED[package] - {package}
        assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)}"
        banned = used & FORBIDDEN_THIRD_PARTY.get(package, set())
        assert not banned, f"{path.relative_to(ROOT)} imports {sorted(banned)}"


def test_no_product_package_imports_the_simulators() -> None:
    for package in set(PACKAGES) - {"simulators", "sallyport"}:
        for path in (ROOT / package).rglob("*.py"):
            assert "simulators" not in imports_of(path), path


def test_every_package_is_typed() -> None:
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").exists(), package
