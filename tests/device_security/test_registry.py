from pathlib import Path

import pytest

from device_security.errors import RegistryError
from device_security.registry import Registry, RegistryEntry, TabletStatus


def test_add_assign_status_and_counter(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    registry.add(RegistryEntry("JP5S-000001", TabletStatus.ACTIVE))
    with pytest.raises(RegistryError, match="registered already"):
        registry.add(RegistryEntry("JP5S-000001", TabletStatus.ACTIVE))
    registry.assign("JP5S-000001", "A100", "Ana Reyes")
    assert registry.advance_counter("JP5S-000001", 3)
    assert not registry.advance_counter("JP5S-000001", 3)  # a replay
    assert not registry.advance_counter("JP5S-000001", 2)
    registry.set_status("JP5S-000001", TabletStatus.LOST)
    entry = registry.get("JP5S-000001")
    assert entry == RegistryEntry("JP5S-000001", TabletStatus.LOST, "A100", "Ana Reyes", 3)
    assert registry.get("JP5S-000009") is None
    with pytest.raises(RegistryError, match="no tablet"):
        registry.assign("JP5S-000009", "A1", "x")
