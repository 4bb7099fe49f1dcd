"""The harness opens a tablet's touchscreen as its own process
(``sallyport tablet ui``) on the tablet's device directory, and closes it."""

from __future__ import annotations

import os
import time

import pytest

from simulators.display import display
from simulators.errors import SimError
from tests.device_security.test_docking import Dock, dock  # noqa: F401 - fixture

pytestmark = pytest.mark.udev


def test_a_provisioned_tablets_screen_opens_and_closes(dock: Dock) -> None:  # noqa: F811
    dock.provision("T1", "A100", "Ana Reyes")
    dock.world.add_tablet("T2")  # made, never provisioned
    with display() as name:
        with pytest.raises(SimError, match="not provisioned"):
            dock.world.open_screen("T2", env={"DISPLAY": name})
        pid = dock.world.open_screen("T1", env={"DISPLAY": name})
        assert dock.world.open_screen("T1") == pid  # one screen per tablet
        time.sleep(4)  # the window is up, the app running on an empty store
        os.kill(pid, 0)  # still alive: it did not fail to start
        process = dock.world._screens["T1"]
        assert process.poll() is None
        dock.world.close_screen("T1")
        assert process.returncode is not None
