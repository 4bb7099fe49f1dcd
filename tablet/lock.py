"""The tablet's lock policy: when the resident may write, and what to tell them.

A tablet not docked for the agency's number of days is read-only (reading
and playing go on, composing stops); a dock opens it; the timer pauses while
the unit's kiosk is out of service; a released tablet is released for good.
The rules, with their edge cases (clock jumps, pauses, damage), are in
docs/tablet.md ("The lock"). Everything here is pure but
:func:`load_state`, :func:`save_state` and the thin :class:`TabletLock`,
which keeps ``lock.json`` in the tablet's device directory."""

from __future__ import annotations

import datetime
import fcntl
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from base.files import write_atomic

log = logging.getLogger(__name__)

DAY = datetime.timedelta(days=1)
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
MAX_PAUSES = 64
MAX_FILE_BYTES = 64 * 1024
# The most time counted that is kept when the clock goes back (beyond any policy's days).
MAX_COUNTED = datetime.timedelta(days=1000)
# The most time a kiosk out of service can pause the timer between two docks, all
# pauses together; after it the lock counts again (docs/tablet.md, "Pauses").
MAX_PAUSE = datetime.timedelta(days=21)
FORMAT_VERSION = 1

Mode = Literal["open", "locked", "released"]

MESSAGES: Mapping[str, str] = {
    "open": "Dock within {days} days to keep writing.",
    "open_one_day": "Dock within 1 day to keep writing.",
    "open_soon": "Dock soon to keep writing: writing locks in less than a day.",
    "open_paused": "Your unit's kiosk is out of service, so the lock timer is paused. "
                   "You can keep writing.",
    "locked": "Locked for writing: this tablet has not been docked for {days} days. "
              "You can still read and play everything on it. "
              "Dock it at your unit's kiosk to unlock.",
    "locked_one_day": "Locked for writing: this tablet has not been docked for 1 day. "
                      "You can still read and play everything on it. "
                      "Dock it at your unit's kiosk to unlock.",
    "locked_never_docked": "Locked for writing: this tablet has never been docked. "
                           "You can still read and play everything on it. "
                           "Dock it at your unit's kiosk to unlock.",
    "locked_paused": "Locked for writing: this tablet was not docked in time, and your "
                     "unit's kiosk is now out of service. You can still read and play "
                     "everything on it. Dock it when the kiosk is back in service to unlock.",
    "locked_damaged": "Locked for writing: this tablet's lock record could not be read. "
                      "You can still read and play everything on it. "
                      "Dock it at your unit's kiosk to unlock.",
    "released": "Released: this tablet has been released by the agency and no longer "
                "syncs. You can still read and play everything on it.",
}


class StatusRefused(ValueError):
    """A kiosk's statement about its service is not believable; nothing was recorded."""

    def __init__(self, message: str, *, since: datetime.datetime,
                 now: datetime.datetime) -> None:
        super().__init__(f"{message}: out of service since {since.isoformat()}, "
                         f"tablet clock {now.isoformat()}")
        self.since = since
        self.now = now


def _aware(value: datetime.datetime, name: str) -> datetime.datetime:
    if not isinstance(value, datetime.datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


@dataclass(frozen=True)
class LockPolicy:
    """The agency's lock rule, delivered by the kiosk at each dock.

    Raises ValueError if ``lock_after_days`` is not an integer from 1 to 365."""

    lock_after_days: int

    def __post_init__(self) -> None:
        days = self.lock_after_days
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
            raise ValueError(f"lock_after_days must be an integer from 1 to 365, got {days!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"lock_after_days": self.lock_after_days}

    @classmethod
    def from_dict(cls, data: object) -> LockPolicy:
        """Raises ValueError on anything but ``{"lock_after_days": <1..365>}``."""
        if not isinstance(data, dict) or set(data) != {"lock_after_days"}:
            raise ValueError(f"a lock policy is exactly {{'lock_after_days': n}}, got {data!r}")
        return cls(data["lock_after_days"])


DEFAULT_POLICY = LockPolicy(lock_after_days=14)


@dataclass(frozen=True)
class KioskStatus:
    """What a kiosk says of the resident's unit kiosk: in service, or out since a time."""

    out_of_service_since: datetime.datetime | None = None

    def __post_init__(self) -> None:
        if self.out_of_service_since is not None:
            _aware(self.out_of_service_since, "out_of_service_since")


IN_SERVICE = KioskStatus()


@dataclass(frozen=True)
class Pause:
    """An interval when the unit's kiosk was out of service; ``end`` None while it still is."""

    start: datetime.datetime
    end: datetime.datetime | None = None


@dataclass(frozen=True)
class LockState:
    """What ``lock.json`` holds. Build one with :meth:`first_start`; change it with the
    event functions of this module.

    Time counted since the last dock is ``counted_earlier`` (time counted before the
    clock last went back) plus the time from ``counting_from`` to ``last_seen`` outside
    ``pauses``, less what pauses beyond ``MAX_PAUSE`` would take off (with
    ``paused_earlier``, the pause credited before the clock last went back).
    ``pauses`` are sorted, disjoint, within that span, and only the last may be open."""

    policy: LockPolicy
    last_dock: datetime.datetime | None
    counting_from: datetime.datetime
    counted_earlier: datetime.timedelta
    last_seen: datetime.datetime
    pauses: tuple[Pause, ...] = ()
    needs_dock: bool = False
    released: bool = False
    paused_earlier: datetime.timedelta = datetime.timedelta(0)

    @classmethod
    def first_start(cls, now: datetime.datetime,
                    policy: LockPolicy = DEFAULT_POLICY) -> LockState:
        """A tablet never docked, started for the first time at ``now``."""
        _aware(now, "now")
        return cls(policy, None, now, datetime.timedelta(0), now)

    @classmethod
    def damaged(cls, now: datetime.datetime) -> LockState:
        """What a tablet whose lock record cannot be read falls back to: locked until a dock."""
        return replace(cls.first_start(now), needs_dock=True)

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime.datetime | None) -> str | None:
            return None if t is None else t.isoformat()
        return {
            "v": FORMAT_VERSION,
            "policy": self.policy.to_dict(),
            "last_dock": iso(self.last_dock),
            "counting_from": iso(self.counting_from),
            "counted_earlier": self.counted_earlier.total_seconds(),
            "last_seen": iso(self.last_seen),
            "pauses": [[iso(p.start), iso(p.end)] for p in self.pauses],
            "needs_dock": self.needs_dock,
            "released": self.released,
            "paused_earlier": self.paused_earlier.total_seconds(),
        }

    @classmethod
    def from_dict(cls, data: object) -> LockState:
        """Raises ValueError unless ``data`` is exactly what :meth:`to_dict` makes
        (or made before ``paused_earlier``, which then counts as none)."""
        if not isinstance(data, dict) or set(data) not in (_FIELDS, _FIELDS | {"paused_earlier"}):
            raise ValueError("not a lock state: wrong or missing fields")
        paused_earlier = data.get("paused_earlier", 0)
        if (not isinstance(paused_earlier, int | float) or isinstance(paused_earlier, bool)
                or not math.isfinite(paused_earlier)
                or not 0 <= paused_earlier <= MAX_PAUSE.total_seconds()):
            raise ValueError(f"paused_earlier out of range: {paused_earlier!r}")
        if type(data["v"]) is not int or data["v"] != FORMAT_VERSION:
            raise ValueError(f"unknown lock state version {data['v']!r}")
        earlier = data["counted_earlier"]
        if (not isinstance(earlier, int | float) or isinstance(earlier, bool)
                or not math.isfinite(earlier)
                or not 0 <= earlier <= MAX_COUNTED.total_seconds()):
            raise ValueError(f"counted_earlier out of range: {earlier!r}")
        pauses = data["pauses"]
        if (not isinstance(pauses, list) or len(pauses) > MAX_PAUSES
                or not all(isinstance(p, list) and len(p) == 2 for p in pauses)):
            raise ValueError("pauses must be a list of [start, end] pairs")
        flags = data["needs_dock"], data["released"]
        if not all(isinstance(f, bool) for f in flags):
            raise ValueError("needs_dock and released must be true or false")
        last_dock = None if data["last_dock"] is None else _time(data["last_dock"])
        state = cls(
            policy=LockPolicy.from_dict(data["policy"]),
            last_dock=last_dock,
            counting_from=_time(data["counting_from"]),
            counted_earlier=datetime.timedelta(seconds=earlier),
            last_seen=_time(data["last_seen"]),
            pauses=tuple(Pause(_time(s), None if e is None else _time(e)) for s, e in pauses),
            needs_dock=flags[0],
            released=flags[1],
            paused_earlier=datetime.timedelta(seconds=paused_earlier),
        )
        _check_consistent(state)
        return state


_FIELDS = {"v", "policy", "last_dock", "counting_from", "counted_earlier", "last_seen",
           "pauses", "needs_dock", "released"}


def _time(value: object) -> datetime.datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError(f"not a time: {value!r}")
    return _aware(datetime.datetime.fromisoformat(value), "a stored time")


def _check_consistent(state: LockState) -> None:
    if not state.counting_from <= state.last_seen:
        raise ValueError("counting starts after the last time seen")
    earliest = state.counting_from
    for i, pause in enumerate(state.pauses):
        if pause.start < earliest or pause.start > state.last_seen:
            raise ValueError("a pause starts out of order or out of range")
        if pause.end is None:
            if i != len(state.pauses) - 1:
                raise ValueError("only the last pause may be open")
        elif not pause.start <= pause.end <= state.last_seen:
            raise ValueError("a pause ends out of order or out of range")
        else:
            earliest = pause.end


# --- the events -------------------------------------------------------------

def observe(state: LockState, now: datetime.datetime) -> LockState:
    """Record that the tablet's clock reads ``now`` (see "The clock" above)."""
    _aware(now, "now")
    if now >= state.last_seen:
        return state if now == state.last_seen else replace(state, last_seen=now)
    still_out = bool(state.pauses) and state.pauses[-1].end is None
    earlier = min(counted(state), MAX_COUNTED)
    return replace(state, counting_from=now, counted_earlier=earlier, last_seen=now,
                   pauses=(Pause(now),) if still_out else (),
                   paused_earlier=state.paused_earlier + _credited(state))


def docked(state: LockState, now: datetime.datetime, policy: LockPolicy,
           kiosk_status: KioskStatus = IN_SERVICE) -> LockState:
    """A dock completed at ``now``: the timer restarts under the kiosk's ``policy``.

    If the kiosk reports the unit's kiosk out of service, the timer stays paused from
    now until a kiosk says it is back. Raises StatusRefused (nothing recorded) if the
    status's time is too far in the future; the dock may then be recorded without it."""
    _check_status(kiosk_status, now)
    state = observe(state, now)
    out = kiosk_status.out_of_service_since is not None
    return replace(state, policy=policy, last_dock=now, counting_from=now,
                   counted_earlier=datetime.timedelta(0),
                   pauses=(Pause(now),) if out else (), needs_dock=False,
                   paused_earlier=datetime.timedelta(0))


def kiosk_reported(state: LockState, now: datetime.datetime,
                   kiosk_status: KioskStatus) -> LockState:
    """A kiosk said at ``now``, without a dock, whether the unit's kiosk is in service.

    Raises StatusRefused (nothing recorded) if the status's time is too far in the
    future."""
    _check_status(kiosk_status, now)
    state = observe(state, now)
    since = kiosk_status.out_of_service_since
    if since is None:
        pauses = tuple(Pause(p.start, now) if p.end is None else p for p in state.pauses)
    else:
        start = min(max(since, state.counting_from), now)
        pauses = _bounded(_merged([*state.pauses, Pause(start)]))
    return replace(state, pauses=pauses)


def released(state: LockState, now: datetime.datetime) -> LockState:
    """The tablet accepted a valid release token at ``now``: released mode, for good."""
    return replace(observe(state, now), released=True)


def _check_status(status: KioskStatus, now: datetime.datetime) -> None:
    _aware(now, "now")
    since = status.out_of_service_since
    if since is not None and since - now > MAX_CLOCK_SKEW:
        raise StatusRefused("a kiosk's out-of-service time is in the future", since=since,
                            now=now)


def _merged(pauses: Sequence[Pause]) -> list[Pause]:
    out: list[Pause] = []
    for pause in sorted(pauses, key=lambda p: p.start):
        if out and (out[-1].end is None or pause.start <= out[-1].end):
            last = out[-1]
            end = None if last.end is None or pause.end is None else max(last.end, pause.end)
            out[-1] = Pause(last.start, end)
        else:
            out.append(pause)
    return out


def _bounded(pauses: list[Pause]) -> tuple[Pause, ...]:
    while len(pauses) > MAX_PAUSES:
        pauses[:2] = [Pause(pauses[0].start, pauses[1].end)]
    return tuple(pauses)


# --- the decision ---------------------------------------------------------

def _paused(state: LockState) -> datetime.timedelta:
    """Time inside pauses from ``counting_from`` to ``last_seen``."""
    total = datetime.timedelta(0)
    for pause in state.pauses:
        end = state.last_seen if pause.end is None else min(pause.end, state.last_seen)
        total += max(end - max(pause.start, state.counting_from), datetime.timedelta(0))
    return total


def _credited(state: LockState) -> datetime.timedelta:
    """The part of :func:`_paused` that stops the timer: what MAX_PAUSE leaves
    after ``paused_earlier``."""
    return min(_paused(state), max(MAX_PAUSE - state.paused_earlier, datetime.timedelta(0)))


def counted(state: LockState) -> datetime.timedelta:
    """Time counted toward the lock since the last dock, as of ``state.last_seen``:
    all of it but the pauses, and those only up to MAX_PAUSE in all."""
    total = state.last_seen - state.counting_from - _credited(state)
    return state.counted_earlier + total


def pause_left(state: LockState) -> datetime.timedelta:
    """How much longer pauses may stop the timer before the next dock."""
    return max(MAX_PAUSE - state.paused_earlier - _credited(state), datetime.timedelta(0))


@dataclass(frozen=True)
class LockDecision:
    """What the tablet may do now, and the sentence that tells the resident why.

    ``seconds_left`` is the time left before the lock (0 when locked, None when
    released); it stands still while ``paused``. ``days_counted`` is the whole days
    counted since the last dock (None when released or the record was damaged)."""

    mode: Mode
    can_compose: bool
    seconds_left: int | None
    days_counted: int | None
    paused: bool
    message: str

    @property
    def days_left(self) -> int | None:
        """Whole days left before the lock, rounded down."""
        return None if self.seconds_left is None else self.seconds_left // 86400

    @property
    def explanation(self) -> str:
        """The message in English, for display."""
        days = self.days_left if self.mode == "open" else self.days_counted
        return MESSAGES[self.message].format(days=days)


def decide(state: LockState, now: datetime.datetime) -> LockDecision:
    """The lock's decision at ``now`` (the state is not changed; see :func:`observe`)."""
    state = observe(state, now)
    if state.released:
        return LockDecision("released", False, None, None, False, "released")
    if state.needs_dock:
        return LockDecision("locked", False, 0, None, False, "locked_damaged")
    # Paused while the unit's kiosk is out of service, for MAX_PAUSE at most.
    paused = bool(state.pauses) and state.pauses[-1].end is None \
        and pause_left(state) > datetime.timedelta(0)
    used = counted(state)
    days_counted = used // DAY
    left = datetime.timedelta(days=state.policy.lock_after_days) - used
    if left <= datetime.timedelta(0):
        if paused:
            message = "locked_paused"
        elif state.last_dock is None:
            message = "locked_never_docked"
        else:
            message = "locked_one_day" if days_counted == 1 else "locked"
        return LockDecision("locked", False, 0, days_counted, paused, message)
    seconds = math.ceil(left.total_seconds())
    if paused:
        message = "open_paused"
    else:
        message = {0: "open_soon", 1: "open_one_day"}.get(seconds // 86400, "open")
    return LockDecision("open", True, seconds, days_counted, paused, message)


# --- lock.json ----------------------------------------------------------------

def load_state(path: Path, *, now: datetime.datetime) -> LockState:
    """The state in ``path``; a fresh tablet's if there is none; locked until the next
    dock if it is damaged (logged). Raises OSError if it exists but cannot be read."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return LockState.first_start(now)
    try:
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError(f"longer than {MAX_FILE_BYTES} bytes")
        return LockState.from_dict(json.loads(raw))
    except (ValueError, TypeError, RecursionError) as e:
        log.warning("%s is damaged (%s); locked for writing until the next dock", path, e)
        return LockState.damaged(now)


def save_state(path: Path, state: LockState) -> None:
    """Write ``state`` to ``path`` atomically."""
    write_atomic(path, json.dumps(state.to_dict(), indent=1).encode())


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class TabletLock:
    """``lock.json`` and the clock: each call loads, records, saves, and decides."""

    def __init__(self, path: Path,
                 clock: Callable[[], datetime.datetime] = utcnow) -> None:
        self.path = path
        self._clock = clock

    def _apply(self, event: Callable[[LockState, datetime.datetime], LockState]) -> LockDecision:
        # The link peer and the screen are separate processes: one at a time
        # loads, changes and saves, so neither writes over the other's change.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            now = self._clock()
            before = load_state(self.path, now=now)
            after = event(before, now)
            if after != before or not self.path.exists():
                save_state(self.path, after)
            return decide(after, now)

    def state(self) -> LockState:
        """What ``lock.json`` holds (a fresh tablet's state before it exists)."""
        return load_state(self.path, now=self._clock())

    def policy(self) -> LockPolicy:
        """The agency's policy as the last dock brought it (the default before one)."""
        return self.state().policy

    def check(self) -> LockDecision:
        """The decision now (recording the clock's reading)."""
        return self._apply(observe)

    def docked(self, policy: LockPolicy, kiosk_status: KioskStatus = IN_SERVICE) -> LockDecision:
        """Raises StatusRefused, recording nothing, as :func:`docked` does."""
        return self._apply(lambda s, now: docked(s, now, policy, kiosk_status))

    def kiosk_reported(self, kiosk_status: KioskStatus) -> LockDecision:
        """Raises StatusRefused, recording nothing, as :func:`kiosk_reported` does."""
        return self._apply(lambda s, now: kiosk_reported(s, now, kiosk_status))

    def released(self) -> LockDecision:
        return self._apply(released)
