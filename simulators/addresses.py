"""``sim://`` link addresses, resolved to the simulated world's pseudo-terminals.

``sim://tablet/T1``          the kiosk's end of tablet T1's link (T1 must be plugged)
``sim://tablet/T1/gadget``   the tablet's own end (its serial gadget)
``sim://badge-reader``       the kiosk's badge reader
``sim://printer``            the kiosk's receipt printer

The world is the one in ``$SALLYPORT_SIM_WORLD`` (or the default). Registered
in the ``sallyport.link_schemes`` entry-point group; ``hw`` finds it there.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from hw.errors import AddressError, DeviceNotFound
from simulators.errors import SimError
from simulators.world import read_state


def default_world() -> Path:
    env = os.environ.get("SALLYPORT_SIM_WORLD")
    if env:
        return Path(env)
    runtime = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"  # noqa: S108 - per-user name below
    return Path(runtime) / f"sallyport-sim-{os.getuid()}"


def resolve(address: str, world: Path | None = None) -> str:
    """Return the ``serial://`` address behind a ``sim://`` one.

    Raises AddressError for a malformed address, DeviceNotFound if the world
    has no such device (or the tablet is not plugged in).
    """
    parts = urlsplit(address)
    if parts.scheme != "sim":
        raise AddressError(f"not a sim:// address: {address!r}")
    words = [w for w in (parts.netloc + parts.path).split("/") if w]
    try:
        state = read_state(world or default_world())
    except SimError as e:
        raise DeviceNotFound(str(e)) from e
    if words in (["badge-reader"], ["printer"]):
        return f"serial://{state[words[0].replace('-', '_')]}"
    if len(words) in (2, 3) and words[0] == "tablet" and words[2:] in ([], ["gadget"]):
        tablets = state.get("tablets", {})
        entry = tablets.get(words[1]) or next(
            (t for t in tablets.values() if t.get("serial") == words[1]), None)
        if entry is None:
            raise DeviceNotFound(f"no tablet {words[1]!r} in the simulated world")
        tty = entry.get("gadget_tty" if words[2:] else "kiosk_tty")
        if not tty:
            raise DeviceNotFound(f"tablet {words[1]} is not plugged in")
        return f"serial://{tty}"
    raise AddressError(f"expected sim://tablet/NAME[/gadget], sim://badge-reader or "
                       f"sim://printer, got {address!r}")
