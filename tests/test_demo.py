"""`make demo` in miniature: the demo command passes every step."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.udev


def test_demo_passes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "UMOCKDEV_DIR"}
    result = subprocess.run([sys.executable, "-m", "sallyport", "demo", "--world",
                             str(tmp_path / "world")], capture_output=True, text=True,
                            timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo: every step passed" in result.stdout
    assert "JP5S-000001" in result.stdout
