"""The harness process: one simulated world, kept alive and driven over its control socket.

Started by ``sallyport sim up`` (in the background) or ``sallyport sim up
--foreground``. It must run under umockdev's preload library so that it can
own the udev testbed; :func:`spawn` and :func:`main` take care of that.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from simulators.control import ControlClient, ControlServer
from simulators.errors import HarnessNotRunning, SimError
from simulators.udev import in_mock_environment, mock_environment
from simulators.world import World

log = logging.getLogger(__name__)

LOG_NAME = "harness.log"


def _parse_central(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SimError(f"--central wants HOST:PORT on loopback, got {text!r}")
    return host, int(port)


def serve(directory: Path, *, tablets: int, ports: int, central: str | None) -> None:
    """Run a world until SIGTERM, SIGINT or a shutdown request."""
    world = World(directory, ports=ports, network_upstream=_parse_central(central))
    world.open()
    while len(world.tablets()) < tablets:
        world.add_tablet()
    done = threading.Event()
    server = ControlServer(world, on_shutdown=done.set)
    server.start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    log.info("harness up in %s with %d tablets, %d ports", directory, len(world.tablets()),
             ports)
    print(f"harness ready: {directory}", flush=True)
    try:
        done.wait()
    finally:
        server.stop()
        world.close()
        log.info("harness down")


_spawned: dict[Path, subprocess.Popen[bytes]] = {}  # world directory -> its harness


def shut_down(directory: Path, *, timeout: float = 15.0) -> None:
    """Ask the harness of ``directory`` to stop; when this process spawned it, wait
    until it has (so that it is reaped, and the world is free when this returns).

    Raises HarnessNotRunning if no harness answers."""
    ControlClient.for_world(directory).call("shutdown")
    proc = _spawned.pop(directory.resolve(), None)
    if proc is not None:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the harness for %s (pid %d) did not stop within %.0f s; killed",
                        directory, proc.pid, timeout)
            proc.kill()
            proc.wait(5)


def spawn(directory: Path, *, tablets: int, ports: int, central: str | None,
          timeout: float = 20.0) -> ControlClient:
    """Start the harness in the background and wait until it answers.

    Raises SimError (with the end of its log) if it does not come up.
    """
    directory.mkdir(parents=True, exist_ok=True)
    try:
        ControlClient.for_world(directory).call("status")
        raise SimError(f"a harness is already running for {directory}")
    except HarnessNotRunning:
        pass
    except SimError as e:
        if "already running" in str(e):
            raise
    args = [sys.executable, "-m", "simulators.harness", "--world", str(directory),
            "--tablets", str(tablets), "--ports", str(ports)]
    if central:
        args += ["--central", central]
    env = mock_environment("", base=dict(os.environ))
    del env["UMOCKDEV_DIR"]  # the harness makes its own testbed
    logfile = (directory / LOG_NAME).open("ab")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile,
                            env=env, start_new_session=True)
    _spawned[directory.resolve()] = proc  # it outlives this call, by design
    logfile.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            client = ControlClient.for_world(directory)
            client.call("status")
            return client
        except SimError:
            time.sleep(0.1)
    tail = (directory / LOG_NAME).read_text(errors="replace")[-2000:]
    if proc.poll() is None:
        proc.terminate()
    raise SimError(f"the harness did not come up; its log ends:\n{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.harness",
                                     description="Run a simulated world in the foreground.")
    parser.add_argument("--world", type=Path, required=True, help="the world's directory")
    parser.add_argument("--tablets", type=int, default=2, help="tablets to create (default 2)")
    parser.add_argument("--ports", type=int, default=2, help="dock ports (default 2)")
    parser.add_argument("--central", help="HOST:PORT of the central server, behind a switch")
    args = parser.parse_args(argv)
    if not in_mock_environment():
        # Re-run under umockdev's preload library, which the testbed needs.
        env = mock_environment("", base=dict(os.environ))
        del env["UMOCKDEV_DIR"]
        os.execve(sys.executable, [sys.executable, "-m", "simulators.harness",
                                   *(argv if argv is not None else sys.argv[1:])], env)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        serve(args.world, tablets=args.tablets, ports=args.ports, central=args.central)
    except SimError as e:
        print(f"harness: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
