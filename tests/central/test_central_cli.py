"""`sallyport central migrate|seed|serve` as a technician runs them: real
processes, a real port, the demo logins they print."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def _sallyport(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sallyport", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_migrate_seed_and_serve(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "SALLYPORT_CENTRAL_STATE_DIR": str(tmp_path / "central"),
           "SALLYPORT_CENTRAL_PASSWORD_COST": "low", "SALLYPORT_CENTRAL_PORT": str(port)}
    # Serving an empty database is refused with what to do.
    refused = _sallyport("central", "serve", env=env)
    assert refused.returncode == 2 and "sallyport central migrate" in refused.stderr
    migrated = _sallyport("central", "migrate", env=env)
    assert migrated.returncode == 0 and "empty -> " in migrated.stdout, migrated.stderr
    seeded = _sallyport("central", "seed", "--demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "rosa.webb@example.org" in seeded.stdout and "PIN" in seeded.stdout
    again = _sallyport("central", "seed", "--demo", env=env)
    assert "already there" in again.stdout
    bad = _sallyport("central", "serve", env={**env, "SALLYPORT_CENTRAL_HOST": "0.0.0.0"})  # noqa: S104
    assert bad.returncode == 2 and "loopback" in bad.stderr

    server = subprocess.Popen([sys.executable, "-m", "sallyport", "central", "serve"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = requests.get(f"{url}/v1/health", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        login = requests.post(f"{url}/v1/family/sessions", timeout=10, json={
            "email": "rosa.webb@example.org", "password": "demo family password"})
        assert login.status_code == 200
        feed = requests.get(f"{url}/v1/family/feed", timeout=10, headers={
            "Authorization": f"Bearer {login.json()['token']}"}).json()
        kinds = [r["body"].get("notice", r["kind"]) for r in feed["records"]]
        assert kinds == ["message", "message_held"]  # one delivered, one held for review
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=20)
    assert "Traceback" not in errors
