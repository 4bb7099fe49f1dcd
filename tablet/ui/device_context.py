"""The screens' context on a tablet: everything read from its device
directory (tablet/device.py), which the link peer, a separate process, writes
at each dock. No Kivy here."""

from __future__ import annotations

from collections.abc import Sequence

from firmware_images.dock import read_features
from tablet.device import TabletDirectory
from tablet.library import Library
from tablet.lock import MESSAGES, TabletLock
from tablet.player import TABLET_OPTIONS, Player
from tablet.speech import Speaker
from tablet.store import TabletStore
from tablet.ui.context import DeviceStatus, LockView, TabletContext
from tablet.ui.playback import Playback


class DeviceContext(TabletContext):
    """A :class:`TabletContext` over a device directory. ``version`` changes
    whenever a dock brought or took something, so the app knows to redraw."""

    def __init__(self, directory: TabletDirectory, store: TabletStore, lock: TabletLock,
                 player: Player | None) -> None:
        library = Library(store)
        super().__init__(library=library, status=self._status, lock=self._lock_view,
                         player=Playback(player, library) if player is not None else None,
                         version=self._version, speaker=Speaker(),
                         settings=directory.settings(),
                         features=directory.feature_enabled)
        self.directory = directory
        self.store = store
        self.tablet_lock = lock
        self.serial = store.serial
        self.media_player = player

    def _status(self) -> DeviceStatus:
        last = self.tablet_lock.state().last_dock
        return DeviceStatus(self.serial, self.directory.battery_pct(), self.store.held_bytes(),
                            self.store.free_bytes(), int(last.timestamp()) if last else None)

    def _lock_view(self) -> LockView:
        decision = self.tablet_lock.check()
        days = decision.days_left if decision.mode == "open" else decision.days_counted
        return LockView(decision.mode, decision.can_compose, decision.explanation,
                        MESSAGES.get(decision.message), days)

    def _version(self) -> object:
        return (self.store.cursor(), self.store.record_count(), len(self.store.complete_blobs()),
                self.store.outbox_count(), tuple(d.handed_at for d in self.store.drafts()),
                self.tablet_lock.state().last_dock, self.store.owner(),
                read_features(self.directory.features_path)[0])

    def close(self) -> None:
        if self.speaker is not None:
            self.speaker.stop()
        if self.media_player is not None:
            self.media_player.close()
        self.store.close()


def device_context(directory: TabletDirectory,
                   player_options: Sequence[str] | None = TABLET_OPTIONS) -> DeviceContext:
    """The context of the tablet in ``directory``; ``player_options`` None
    means no media player. Raises SecurityError if it is not provisioned,
    StoreError if its store cannot be opened."""
    store = directory.content(directory.serial())
    player = Player(player_options) if player_options is not None else None
    return DeviceContext(directory, store, directory.lock(), player)
