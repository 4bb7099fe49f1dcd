"""The tablet's lock: the timer, its pause, the clock, released mode, and lock.json."""

import datetime
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tablet import lock
from tablet.lock import (
    IN_SERVICE,
    MAX_CLOCK_SKEW,
    MAX_PAUSE,
    MAX_PAUSES,
    MESSAGES,
    KioskStatus,
    LockPolicy,
    LockState,
    Pause,
    StatusRefused,
    TabletLock,
    counted,
    decide,
    docked,
    kiosk_reported,
    load_state,
    observe,
    released,
    save_state,
)

T0 = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)
POLICY = LockPolicy(lock_after_days=14)
DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)
TICK = datetime.timedelta(microseconds=1)


def day(n: float) -> datetime.datetime:
    return T0 + n * DAY


def out_since(t: datetime.datetime) -> KioskStatus:
    return KioskStatus(out_of_service_since=t)


def docked_at_t0(policy: LockPolicy = POLICY) -> LockState:
    return docked(LockState.first_start(T0 - DAY), T0, policy)


# --- the policy ---------------------------------------------------------------

def test_a_policy_round_trips() -> None:
    assert LockPolicy.from_dict(POLICY.to_dict()) == POLICY
    assert POLICY.to_dict() == {"lock_after_days": 14}


@pytest.mark.parametrize("data", [
    {"lock_after_days": 0}, {"lock_after_days": 366}, {"lock_after_days": -1},
    {"lock_after_days": True}, {"lock_after_days": 14.0}, {"lock_after_days": "14"},
    {"lock_after_days": None}, {}, {"lock_after_days": 14, "grace": 2}, {"days": 14},
    [14], "14", None,
])
def test_a_policy_is_exactly_its_one_field(data: object) -> None:
    with pytest.raises(ValueError):
        LockPolicy.from_dict(data)


def test_a_policy_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="1 to 365, got 400"):
        LockPolicy(lock_after_days=400)


# --- the timer ----------------------------------------------------------------

def test_open_until_the_days_are_up_and_locked_from_that_moment() -> None:
    state = docked_at_t0()
    before = decide(state, day(14) - TICK)
    at = decide(state, day(14))
    assert (before.mode, before.can_compose) == ("open", True)
    assert before.seconds_left == 1 and before.message == "open_soon"
    assert (at.mode, at.can_compose, at.seconds_left, at.days_left) == ("locked", False, 0, 0)
    assert at.days_counted == 14
    assert at.explanation == (
        "Locked for writing: this tablet has not been docked for 14 days. You can still read "
        "and play everything on it. Dock it at your unit's kiosk to unlock.")


def test_days_left_round_down_so_the_advice_is_never_too_late() -> None:
    state = docked_at_t0()
    assert decide(state, T0).days_left == 14
    assert decide(state, day(11.5)).days_left == 2
    assert decide(state, day(11.5)).explanation == "Dock within 2 days to keep writing."
    assert decide(state, day(12.5)).explanation == "Dock within 1 day to keep writing."
    assert decide(state, day(13.5)).explanation == (
        "Dock soon to keep writing: writing locks in less than a day.")


def test_a_one_day_policy_speaks_of_one_day() -> None:
    state = docked_at_t0(LockPolicy(lock_after_days=1))
    assert decide(state, day(1.5)).explanation.startswith(
        "Locked for writing: this tablet has not been docked for 1 day.")


def test_a_dock_restarts_the_timer_under_the_kiosks_policy() -> None:
    state = docked_at_t0()
    assert decide(state, day(20)).mode == "locked"
    state = docked(state, day(20), LockPolicy(lock_after_days=7))
    assert decide(state, day(20)).days_left == 7
    assert decide(state, day(27) - TICK).mode == "open"
    assert decide(state, day(27)).mode == "locked"
    assert state.last_dock == day(20)


def test_a_fresh_tablet_is_open_from_its_first_start_and_then_asks_for_a_dock() -> None:
    state = LockState.first_start(T0)
    assert decide(state, day(13)).mode == "open"
    locked = decide(state, day(14))
    assert (locked.mode, locked.message) == ("locked", "locked_never_docked")
    assert "has never been docked" in locked.explanation
    assert decide(docked(state, day(14), POLICY), day(14)).mode == "open"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(docked_at_t0(), datetime.datetime(2026, 3, 2))  # naive
    with pytest.raises(ValueError, match="timezone-aware"):
        KioskStatus(out_of_service_since=datetime.datetime(2026, 3, 2))


# --- the pause ----------------------------------------------------------------

def test_an_out_of_service_kiosk_pauses_the_timer_from_when_it_broke() -> None:
    state = docked_at_t0()
    state = kiosk_reported(state, day(10), out_since(day(5)))
    paused = decide(state, day(10))
    assert (paused.mode, paused.paused, paused.message) == ("open", True, "open_paused")
    assert paused.explanation == ("Your unit's kiosk is out of service, so the lock timer is "
                                  "paused. You can keep writing.")
    assert paused.days_left == 9  # days 0 to 5 counted
    assert decide(state, day(5) + MAX_PAUSE).seconds_left == paused.seconds_left
    assert decide(state, day(5) + MAX_PAUSE).mode == "open"


def test_an_in_service_report_ends_the_pause_and_the_timer_runs_again() -> None:
    state = kiosk_reported(docked_at_t0(), day(10), out_since(day(5)))
    state = kiosk_reported(state, day(20), IN_SERVICE)
    assert state.pauses == (Pause(day(5), day(20)),)
    assert decide(state, day(20)).days_left == 9
    assert decide(state, day(29) - TICK).mode == "open"
    assert decide(state, day(29)).mode == "locked"


def test_a_later_dock_closes_an_open_pause() -> None:
    state = kiosk_reported(docked_at_t0(), day(10), out_since(day(5)))
    state = docked(state, day(30), POLICY)
    assert state.pauses == ()
    assert decide(state, day(44) - TICK).mode == "open"
    assert decide(state, day(44)).mode == "locked"


def test_a_dock_at_an_out_of_service_kiosk_pauses_from_the_dock_on() -> None:
    state = docked(docked_at_t0(), day(3), POLICY, out_since(day(1)))
    assert state.pauses == (Pause(day(3)),)  # clamped to the dock
    assert decide(state, day(20)).days_left == 14
    state = kiosk_reported(state, day(20), IN_SERVICE)
    assert decide(state, day(34)).mode == "locked"


def test_a_pause_from_before_the_last_dock_counts_from_the_dock() -> None:
    state = kiosk_reported(docked_at_t0(), day(4), out_since(day(-30)))
    assert state.pauses == (Pause(T0),)
    assert decide(state, day(4)).days_left == 14


def test_a_kiosk_broken_before_the_lock_unlocks_the_tablet() -> None:
    state = docked_at_t0()
    assert decide(state, day(20)).mode == "locked"
    state = kiosk_reported(state, day(20), out_since(day(12)))
    assert decide(state, day(20)).mode == "open"
    assert decide(state, day(20)).days_left == 2


def test_a_kiosk_broken_after_the_lock_does_not_unlock_it() -> None:
    state = kiosk_reported(docked_at_t0(), day(20), out_since(day(16)))
    decision = decide(state, day(20))
    assert (decision.mode, decision.paused, decision.message) == ("locked", True,
                                                                  "locked_paused")
    assert "when the kiosk is back in service" in decision.explanation


def test_a_time_far_in_the_future_is_refused_and_nothing_is_recorded() -> None:
    state = docked_at_t0()
    far = day(3) + MAX_CLOCK_SKEW + SECOND
    with pytest.raises(StatusRefused, match="in the future") as info:
        kiosk_reported(state, day(3), out_since(far))
    assert (info.value.since, info.value.now) == (far, day(3))
    with pytest.raises(StatusRefused):
        docked(state, day(3), POLICY, out_since(far))
    with pytest.raises(StatusRefused):
        TabletLock(Path("/nonexistent/lock.json"), lambda: day(3)).kiosk_reported(out_since(far))


def test_a_time_a_little_in_the_future_counts_from_now() -> None:
    state = kiosk_reported(docked_at_t0(), day(3), out_since(day(3) + MAX_CLOCK_SKEW))
    assert state.pauses == (Pause(day(3)),)


def test_overlapping_pauses_merge() -> None:
    state = docked_at_t0()
    state = kiosk_reported(state, day(4), out_since(day(2)))
    state = kiosk_reported(state, day(5), IN_SERVICE)
    state = kiosk_reported(state, day(8), out_since(day(6)))
    state = kiosk_reported(state, day(9), IN_SERVICE)
    assert state.pauses == (Pause(day(2), day(5)), Pause(day(6), day(9)))
    state = kiosk_reported(state, day(10), out_since(day(3)))
    assert state.pauses == (Pause(day(2)),)
    assert decide(state, day(2) + MAX_PAUSE).days_left == 12


def test_pauses_are_bounded_by_merging_the_oldest_which_never_hastens_the_lock() -> None:
    state = LockState.first_start(T0, LockPolicy(lock_after_days=365))
    hour = datetime.timedelta(hours=1)
    for i in range(MAX_PAUSES + 10):
        start = T0 + i * 3 * hour
        state = kiosk_reported(state, start + hour, out_since(start))
        state = kiosk_reported(state, start + 2 * hour, IN_SERVICE)
    # Each pause lasts two hours, then an hour in service. The eleven oldest are now one.
    assert len(state.pauses) == MAX_PAUSES
    assert state.pauses[0] == Pause(T0, T0 + 10 * 3 * hour + 2 * hour)
    assert state.pauses[1:] == tuple(
        Pause(T0 + i * 3 * hour, T0 + i * 3 * hour + 2 * hour)
        for i in range(11, MAX_PAUSES + 10))
    end = T0 + (MAX_PAUSES + 10) * 3 * hour
    exact = (MAX_PAUSES + 10) * hour  # the time in service, had every pause been kept
    assert counted(observe(state, end)) == exact - 10 * hour


def test_a_kiosk_left_out_of_service_pauses_the_lock_for_max_pause_and_no_longer() -> None:
    """An endless pause: the kiosk (or whoever holds its key) never says it is back."""
    state = kiosk_reported(docked_at_t0(), day(5), out_since(day(5)))
    end = day(5) + MAX_PAUSE
    assert decide(state, end - TICK).paused and decide(state, end).days_left == 9
    after = decide(state, end + DAY)
    assert (after.mode, after.paused, after.message) == ("open", False, "open")
    assert after.days_left == 8  # the lock counts again
    assert decide(state, end + 9 * DAY).mode == "locked"
    assert decide(state, day(1000)).mode == "locked"
    assert lock.pause_left(observe(state, end + DAY)) == datetime.timedelta(0)


def test_many_pauses_add_up_to_max_pause_at_most() -> None:
    state = docked_at_t0(LockPolicy(lock_after_days=60))
    for start in range(0, 50, 5):  # out four days of every five
        state = kiosk_reported(state, day(start + 4), out_since(day(start)))
        state = kiosk_reported(state, day(start + 5), IN_SERVICE)
    assert counted(observe(state, day(50))) == 50 * DAY - MAX_PAUSE


def test_setting_the_clock_back_does_not_renew_the_pause() -> None:
    state = kiosk_reported(docked_at_t0(), day(5), out_since(day(5)))
    state = observe(state, day(20))  # fifteen days paused
    state = observe(state, day(-300))  # then the clock goes back
    assert state.paused_earlier == 15 * DAY
    assert lock.pause_left(state) == MAX_PAUSE - 15 * DAY
    assert not decide(state, day(-300) + MAX_PAUSE - 15 * DAY + DAY).paused


def test_a_dock_gives_the_whole_pause_back() -> None:
    state = kiosk_reported(docked_at_t0(), day(1), out_since(day(1)))
    state = observe(state, day(40))
    assert lock.pause_left(state) == datetime.timedelta(0)
    state = docked(state, day(40), POLICY, out_since(day(39)))
    assert lock.pause_left(state) == MAX_PAUSE and decide(state, day(60)).paused


def test_a_lock_file_from_before_the_bound_still_loads(tmp_path: Path) -> None:
    state = kiosk_reported(docked_at_t0(), day(5), out_since(day(5)))
    data = state.to_dict()
    assert data["paused_earlier"] == 0
    del data["paused_earlier"]
    assert LockState.from_dict(data) == state
    for bad in (-1, MAX_PAUSE.total_seconds() + 1, "0", True, float("nan")):
        with pytest.raises(ValueError, match="paused_earlier"):
            LockState.from_dict({**state.to_dict(), "paused_earlier": bad})


# --- the clock ------------------------------------------------------------------

def test_setting_the_clock_back_does_not_unlock() -> None:
    state = observe(docked_at_t0(), day(15))
    assert decide(state, day(15)).mode == "locked"
    assert decide(state, day(1)).mode == "locked"
    state = observe(state, day(1))
    assert decide(state, day(1)).mode == "locked"
    assert decide(state, day(1)).days_counted == 15


def test_after_the_clock_goes_back_the_timer_keeps_running() -> None:
    state = observe(docked_at_t0(), day(10))
    state = observe(state, day(-300))  # a reset clock
    assert decide(state, day(-300)).days_left == 4
    assert decide(state, day(-296) - TICK).mode == "open"
    assert decide(state, day(-296)).mode == "locked"


def test_an_open_pause_stays_open_when_the_clock_goes_back() -> None:
    state = kiosk_reported(docked_at_t0(), day(10), out_since(day(5)))
    state = observe(state, day(-300))
    assert state.pauses == (Pause(day(-300)),)
    # Five days of the pause were taken before the clock went back: sixteen are left.
    assert decide(state, day(-300) + MAX_PAUSE - 5 * DAY).days_left == 9
    assert decide(state, day(-300) + MAX_PAUSE - 5 * DAY + 9 * DAY).mode == "locked"


def test_a_jump_forward_locks_until_the_next_dock_whatever_the_clock_says_after() -> None:
    state = observe(docked_at_t0(), day(3000))
    assert decide(state, day(3000)).mode == "locked"
    state = docked(state, day(3000), POLICY)
    state = observe(state, day(2))  # the clock put right
    assert decide(state, day(2)).days_left == 14
    assert decide(state, day(16)).mode == "locked"


def test_deciding_changes_nothing() -> None:
    state = docked_at_t0()
    decide(state, day(5))
    assert state == docked_at_t0()


# --- released mode --------------------------------------------------------------

def test_released_overrides_the_lock_the_pause_and_a_damaged_record() -> None:
    for state in (observe(docked_at_t0(), day(30)),
                  kiosk_reported(docked_at_t0(), day(3), out_since(day(1))),
                  LockState.damaged(T0), docked_at_t0()):
        decision = decide(released(state, day(30)), day(30))
        assert (decision.mode, decision.can_compose, decision.seconds_left,
                decision.message) == ("released", False, None, "released")
        assert decision.explanation == (
            "Released: this tablet has been released by the agency and no longer syncs. "
            "You can still read and play everything on it.")


def test_released_is_for_good() -> None:
    state = released(docked_at_t0(), day(1))
    state = docked(state, day(2), POLICY)
    state = kiosk_reported(state, day(3), out_since(day(2)))
    state = observe(state, day(-50))
    assert decide(state, day(400)).mode == "released"


# --- lock.json ----------------------------------------------------------------

def busy_state() -> LockState:
    state = kiosk_reported(docked_at_t0(), day(4), out_since(day(2)))
    state = kiosk_reported(state, day(5), IN_SERVICE)
    state = observe(state, day(3))
    return kiosk_reported(state, day(6), out_since(day(5)))


def test_the_state_survives_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    for state in (busy_state(), released(busy_state(), day(7)), LockState.damaged(T0),
                  LockState.first_start(T0)):
        save_state(path, state)
        assert load_state(path, now=day(100)) == state


def test_no_file_is_a_fresh_tablet(tmp_path: Path) -> None:
    assert load_state(tmp_path / "lock.json", now=T0) == LockState.first_start(T0)


def damage(text: str) -> str:
    data = json.loads(text)
    data["pauses"] = [["2026-03-05T00:00:00+00:00", "2026-03-04T00:00:00+00:00"]]
    return json.dumps(data)


@pytest.mark.parametrize("spoil", [
    lambda text: text[: len(text) // 2],
    lambda text: "",
    lambda text: "\xff\xfe not json",
    lambda text: "[]",
    lambda text: text.replace('"released"', '"released_early"'),
    lambda text: text.replace('"v": 1', '"v": 2'),
    lambda text: text.replace('"needs_dock": false', '"needs_dock": 0'),
    lambda text: text.replace('"lock_after_days": 14', '"lock_after_days": 9999'),
    lambda text: text.replace("+00:00", ""),
    lambda text: text.replace('"counted_earlier": 0.0', '"counted_earlier": -5'),
    lambda text: text.replace('"counted_earlier": 0.0', '"counted_earlier": NaN'),
    damage,
    lambda text: text + " " * lock.MAX_FILE_BYTES,
    lambda text: "[" * 100_000,
], ids=["truncated", "empty", "not json", "not a map", "unknown key", "version", "bool type",
        "policy range", "naive time", "negative count", "nan", "pause reversed", "too big",
        "deep"])
def test_a_damaged_file_locks_until_the_next_dock(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                   spoil: Callable[[str], str]) -> None:
    path = tmp_path / "lock.json"
    save_state(path, observe(docked_at_t0(), day(1)))
    path.write_text(spoil(path.read_text()))
    with caplog.at_level(logging.WARNING, logger="tablet.lock"):
        state = load_state(path, now=day(2))
    assert "damaged" in caplog.text
    decision = decide(state, day(2))
    assert (decision.mode, decision.can_compose, decision.message) == ("locked", False,
                                                                       "locked_damaged")
    assert decision.explanation == (
        "Locked for writing: this tablet's lock record could not be read. You can still read "
        "and play everything on it. Dock it at your unit's kiosk to unlock.")
    assert decide(docked(state, day(2), POLICY), day(2)).mode == "open"


def test_every_message_renders() -> None:
    for text in MESSAGES.values():
        assert text.format(days=3)


class Clock:
    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now


def test_the_tablet_lock_keeps_lock_json(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    clock = Clock(T0)
    tablet = TabletLock(path, clock)
    assert not path.exists()
    assert tablet.check().mode == "open"
    assert load_state(path, now=T0) == LockState.first_start(T0)
    clock.now = day(15)
    assert tablet.check().message == "locked_never_docked"
    assert tablet.docked(POLICY).mode == "open"
    clock.now = day(20)
    assert tablet.kiosk_reported(out_since(day(18))).paused
    clock.now = day(2)  # the clock goes back: recorded, nothing gained
    assert tablet.check().days_left == 11
    clock.now = day(6)
    assert tablet.check().days_left == 11  # still paused
    assert tablet.kiosk_reported(IN_SERVICE).days_left == 11
    clock.now = day(9)
    assert tablet.check().days_left == 8
    assert tablet.released().mode == "released"
    assert TabletLock(path, clock).check().mode == "released"


def test_the_tablet_lock_locks_on_a_damaged_file_until_a_dock(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    path.write_text("{")
    tablet = TabletLock(path, Clock(T0))
    assert tablet.check().message == "locked_damaged"
    assert tablet.docked(POLICY).mode == "open"
    assert tablet.check().mode == "open"


# --- properties -------------------------------------------------------------------

# One step: the clock moves by some seconds (back or forward), then one event.
EVENTS = st.sampled_from(["observe", "dock", "in_service", "out_of_service", "dock_out"])
STEPS = st.lists(
    st.tuples(st.integers(-20 * 86400, 20 * 86400), EVENTS,
              st.integers(-int(MAX_CLOCK_SKEW.total_seconds()), 30 * 86400)),
    max_size=40)
POLICIES = st.builds(LockPolicy, st.integers(1, 30))


def apply(state: LockState, now: datetime.datetime, event: str, ago: int,
          policy: LockPolicy, *, without_pauses: bool = False) -> LockState:
    since = now - datetime.timedelta(seconds=ago)
    status = IN_SERVICE if without_pauses else out_since(since)
    if event == "observe":
        return observe(state, now)
    if event == "dock":
        return docked(state, now, policy)
    if event == "dock_out":
        return docked(state, now, policy, status)
    if event == "in_service":
        return kiosk_reported(state, now, IN_SERVICE)
    return kiosk_reported(state, now, status)


@settings(max_examples=300, deadline=None)
@given(STEPS, POLICIES)
def test_time_counted_never_exceeds_the_clocks_forward_movement(steps: list, policy: LockPolicy
                                                                ) -> None:
    now = T0
    state = LockState.first_start(now, policy)
    forward = datetime.timedelta(0)
    for seconds, event, ago in steps:
        step = datetime.timedelta(seconds=seconds)
        now += step
        forward += max(step, datetime.timedelta(0))
        state = apply(state, now, event, ago, policy)
        if event.startswith("dock"):
            forward = datetime.timedelta(0)
        assert datetime.timedelta(0) <= counted(state) <= forward


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5 * 86400), st.sampled_from(["observe", "dock"]),
                          st.just(0)), max_size=30), POLICIES)
def test_with_a_steady_clock_and_no_pause_the_timer_is_the_time_since_the_dock(
        steps: list, policy: LockPolicy) -> None:
    now = T0
    state = LockState.first_start(now, policy)
    start = now
    for seconds, event, ago in steps:
        now += datetime.timedelta(seconds=seconds)
        state = apply(state, now, event, ago, policy)
        if event == "dock":
            start = now
        assert counted(state) == now - start
        limit = datetime.timedelta(days=policy.lock_after_days)
        assert decide(state, now).mode == ("open" if now - start < limit else "locked")


@settings(max_examples=300, deadline=None)
@given(STEPS, POLICIES)
def test_a_pause_never_brings_the_lock_sooner(steps: list, policy: LockPolicy) -> None:
    now = T0
    paused = plain = LockState.first_start(now, policy)
    for seconds, event, ago in steps:
        now += datetime.timedelta(seconds=seconds)
        paused = apply(paused, now, event, ago, policy)
        plain = apply(plain, now, event, ago, policy, without_pauses=True)
        assert counted(paused) <= counted(plain)
        if decide(plain, now).mode == "open":
            assert decide(paused, now).mode == "open"


@settings(max_examples=200, deadline=None)
@given(STEPS, POLICIES, st.integers(1, 10_000 * 86400))
def test_setting_the_clock_back_never_lowers_the_count(steps: list, policy: LockPolicy,
                                                       back: int) -> None:
    now = T0
    state = LockState.first_start(now, policy)
    for seconds, event, ago in steps:
        now += datetime.timedelta(seconds=seconds)
        state = apply(state, now, event, ago, policy)
    earlier = now - datetime.timedelta(seconds=back)
    assert counted(observe(state, earlier)) >= min(counted(state), lock.MAX_COUNTED)
    if decide(state, now).mode == "locked":
        assert decide(state, earlier).mode == "locked"


@settings(max_examples=200, deadline=None)
@given(STEPS, POLICIES, st.booleans())
def test_any_state_survives_save_and_load(tmp_path_factory: pytest.TempPathFactory, steps: list,
                                          policy: LockPolicy, release: bool) -> None:
    now = T0
    state = LockState.first_start(now, policy)
    for seconds, event, ago in steps:
        now += datetime.timedelta(seconds=seconds)
        state = apply(state, now, event, ago, policy)
    if release:
        state = released(state, now)
    path = tmp_path_factory.mktemp("lock") / "lock.json"
    save_state(path, state)
    assert load_state(path, now=T0) == state
    if release:
        assert decide(state, now + 1000 * DAY).mode == "released"
