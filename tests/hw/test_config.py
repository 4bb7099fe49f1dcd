from pathlib import Path

import pytest

from base.config import ConfigError, load_config
from hw.config import HwConfig
from hw.records import UsbId


def test_usb_id_parses_hex_pairs() -> None:
    assert UsbId.parse("1d6b:0104") == UsbId(0x1D6B, 0x0104)
    assert str(UsbId(0x1D6B, 0x104)) == "1d6b:0104"


@pytest.mark.parametrize("text", ["1d6b", "1d6b:", "zz:0104", "1d6b:10000", ""])
def test_usb_id_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError, match=r"VENDOR:PRODUCT|16-bit"):
        UsbId.parse(text)


def test_defaults_match_the_gadget_id() -> None:
    assert load_config(HwConfig, env={}, prefix="SALLYPORT_HW").matches() == (
        UsbId(0x1D6B, 0x0104),)


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[hw]\ntablet_ids = ["1234:abcd"]\npoll_interval = 0.5\n'
                    '[kiosk]\nlocation = "ignored: another part\'s table"\n')
    config = load_config(HwConfig, path=path, section="hw", prefix="SALLYPORT_HW",
                         env={"SALLYPORT_HW_POLL_INTERVAL": "3", "SALLYPORT_HW_USB_BACKEND": "sim",
                              "OTHER": "x"})
    assert config.tablet_ids == ("1234:abcd",)
    assert config.poll_interval == 3.0
    assert config.usb_backend == "sim"


def test_unknown_key_in_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text("[hw]\npoll_intervall = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key.*poll_intervall"):
        load_config(HwConfig, path=path, section="hw", prefix="SALLYPORT_HW", env={})


def test_unknown_environment_setting_is_an_error() -> None:
    with pytest.raises(ConfigError, match="SALLYPORT_HW_SETTEL"):
        load_config(HwConfig, prefix="SALLYPORT_HW", env={"SALLYPORT_HW_SETTEL": "1"})


@pytest.mark.parametrize(("env", "message"), [
    ({"SALLYPORT_HW_POLL_INTERVAL": "soon"}, "must be a number"),
    ({"SALLYPORT_HW_POLL_INTERVAL": "0"}, "poll_interval must be positive"),
    ({"SALLYPORT_HW_TABLET_IDS": "1d6b"}, "VENDOR:PRODUCT"),
    ({"SALLYPORT_HW_TABLET_IDS": ""}, "at least one"),
])
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(HwConfig, prefix="SALLYPORT_HW", env=env)


def test_broken_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text("[hw\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(HwConfig, path=path, section="hw", prefix="SALLYPORT_HW", env={})


def test_wrong_type_in_file(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[hw]\nusb_backend = 3\n')
    with pytest.raises(ConfigError, match="usb_backend must be text"):
        load_config(HwConfig, path=path, section="hw", prefix="SALLYPORT_HW", env={})
