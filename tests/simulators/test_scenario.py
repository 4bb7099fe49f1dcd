from typing import Any

import pytest

from simulators.errors import SimError
from simulators.scenario import parse_scenario, run_scenario


@pytest.mark.parametrize(("data", "message"), [
    ({}, "at least one"),
    ({"steps": []}, "unknown top-level"),
    ({"step": [{"plug": "T1", "unplug": "T1"}]}, "exactly one"),
    ({"step": [{"jump": "T1"}]}, "exactly one"),
    ({"step": [{"plug": "T1", "speed": 3}]}, "does not take"),
    ({"step": [{"wait": -1}]}, "wait takes"),
    ({"step": [{"wait": True}]}, "wait takes"),
    ({"step": [{"network": "sideways"}]}, "up or down"),
    ({"step": [{"unplug": 3}]}, "tablet name"),
    ({"step": [{"expect_plugged": "T1"}]}, "list"),
])
def test_bad_scenarios_are_refused_before_anything_runs(data: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(SimError, match=message):
        parse_scenario(data)


def test_steps_become_control_calls_in_order() -> None:
    steps = parse_scenario({"step": [
        {"plug": "T1", "port": 2}, {"fault": "T1", "drop_at": 100}, {"wait": 0.5},
        {"clear_fault": "T1"}, {"swipe": "B-7"}, {"network": "down"}, {"reset": "T1"},
        {"battery": "T1", "percent": 5}, {"unplug": "T1"},
    ]})
    calls: list[tuple[str, dict[str, Any]]] = []
    slept: list[float] = []
    run_scenario(steps, lambda op, **args: calls.append((op, args)), echo=lambda _: None,
                 sleep=slept.append)
    assert calls == [
        ("plug", {"tablet": "T1", "port": 2}),
        ("fault", {"tablet": "T1", "drop_at": 100}),
        ("fault", {"tablet": "T1", "clear": True}),
        ("swipe", {"badge": "B-7"}),
        ("network", {"state": "down"}),
        ("reset", {"tablet": "T1"}),
        ("battery", {"tablet": "T1", "percent": 5}),
        ("unplug", {"tablet": "T1"}),
    ]
    assert slept == [0.5]


def test_expectation_failure_names_the_step() -> None:
    steps = parse_scenario({"step": [{"expect_plugged": ["T1"]}]})

    def call(op: str, **args: Any) -> Any:
        return {"tablets": {"T1": {"port": None}}}

    with pytest.raises(SimError, match=r"step 1 \(expect_plugged"):
        run_scenario(steps, call, echo=lambda _: None)
