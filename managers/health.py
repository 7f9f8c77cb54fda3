"""Healthchecks: docker's ``--health-*`` flags and an image's HEALTHCHECK, with no daemon to run them.

A container's check is fixed at create (``pouchsh/healthcheck``: the image's HEALTHCHECK with the flags
laid over it field by field, as docker does) and its last result is a label too (``pouchsh/health``),
so ``ps`` and ``inspect`` read it with the record they already fetch and two processes see the same
state. Nothing runs checks in the background: pouchsh has no daemon, and a process per container is
what issue 17 forbids. The checks are run by whoever needs the answer: ``wait --condition healthy``,
``compose up`` for a ``service_healthy`` dependency, ``upgrade``, ``health check``. Each probe is one
exec in the container (the container's own process spec, never a host binary), its output bounded,
killed at the timeout. A probe is due when the recorded one is older than the interval, so several
waiters share one schedule. The recorded state names the task's pid: after a restart (another pid) the
container is ``starting`` again until a waiter probes it. A waiter killed mid-probe leaves at most one
exec'd process, which its container's end takes with it; the label is only written whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ctrd.errors import InvalidArgument
from managers.labels import LABEL

__all__ = ["HealthConfig", "HealthOptions", "health_of", "parse_duration", "state_of"]

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_RETRIES = 3
DEFAULT_START_INTERVAL = 5 * SECOND
STATUSES = ("starting", "healthy", "unhealthy")

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": SECOND, "m": 60 * SECOND, "h": 3600 * SECOND}


def parse_duration(value: Any, what: str) -> int:
    """Nanoseconds from an int (the language's Duration is one) or docker's and compose's spelling:
    ``30s``, ``1m30s``, ``500ms``; a bare number is seconds."""
    if isinstance(value, bool):
        raise InvalidArgument(f"{what} {value!r}: not a duration")
    if isinstance(value, int):
        ns = value
    elif isinstance(value, float):
        ns = int(value * SECOND)
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            ns = int(float(text) * SECOND)
        else:
            parts = _GO_DURATION.findall(text)
            if not text or "".join(n + u for n, u in parts) != text:
                raise InvalidArgument(f"{what} {value!r}: not a duration (use e.g. 500ms, 10s, 1m30s)")
            ns = int(sum(float(n) * _UNITS[u] for n, u in parts))
    if ns < 0:
        raise InvalidArgument(f"{what}: must not be negative")
    if ns > 24 * 3600 * SECOND:
        raise InvalidArgument(f"{what}: at most 24h")
    return ns


@dataclass(frozen=True)
class HealthOptions:
    """What the flags (or a compose ``healthcheck``) say; None where they say nothing, so the image's
    HEALTHCHECK fills it in. ``disable``: ``--no-healthcheck`` (or compose's ``disable: true``)."""

    test: tuple[str, ...] | None = None
    interval: int | None = None
    timeout: int | None = None
    retries: int | None = None
    start_period: int | None = None
    disable: bool = False
    start_interval: int | None = None

    @classmethod
    def parse(
        cls, *, cmd: Any = None, interval: Any = None, timeout: Any = None, retries: Any = None,
        start_period: Any = None, disable: bool = False, start_interval: Any = None,
    ) -> HealthOptions | None:
        given = [v for v in (cmd, interval, timeout, retries, start_period, start_interval) if v is not None]
        if disable:
            if given:
                raise InvalidArgument("--no-healthcheck conflicts with the --health-* options")
            return cls(disable=True)
        if not given:
            return None
        test: tuple[str, ...] | None = None
        if cmd is not None:
            test = _test(cmd)
        n: int | None = None
        if retries is not None:
            try:
                n = int(retries)
            except (TypeError, ValueError):
                raise InvalidArgument(f"--health-retries {retries!r}: not an integer") from None
            if n < 0:
                raise InvalidArgument("--health-retries: must not be negative")
        opts = cls(
            test=test,
            interval=_positive(interval, "--health-interval"),
            timeout=_positive(timeout, "--health-timeout"),
            retries=n,
            start_period=parse_duration(start_period, "--health-start-period") if start_period is not None else None,
            start_interval=_positive(start_interval, "--health-start-interval"),
        )
        return opts


def _positive(value: Any, what: str) -> int | None:
    if value is None:
        return None
    ns = parse_duration(value, what)
    if ns and ns < SECOND // 1000:
        raise InvalidArgument(f"{what}: at least 1ms")
    return ns or None  # 0 means "the default", as in docker


def _test(value: Any) -> tuple[str, ...]:
    """A command string is ``CMD-SHELL``; a list follows docker's form (``["CMD", ...]``,
    ``["CMD-SHELL", "..."]``, ``["NONE"]``)."""
    if isinstance(value, str):
        if not value.strip():
            raise InvalidArgument("--health-cmd: empty command")
        return ("CMD-SHELL", value)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        kind = value[0]
        if kind == "NONE" and len(value) == 1:
            return ("NONE",)
        if kind == "CMD" and len(value) > 1:
            return tuple(value)
        if kind == "CMD-SHELL" and len(value) == 2:
            return tuple(value)
        raise InvalidArgument(f"healthcheck test {list(value)!r}: expected [CMD, ARG...], [CMD-SHELL, COMMAND] or [NONE]")
    raise InvalidArgument(f"healthcheck test {value!r}: expected a command string or a list")


@dataclass(frozen=True)
class HealthConfig:
    """The check a container has (all durations in nanoseconds)."""

    test: tuple[str, ...]
    interval: int = DEFAULT_INTERVAL
    timeout: int = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    start_period: int = 0
    #: the time between checks during the start period (docker 25's StartInterval)
    start_interval: int = DEFAULT_START_INTERVAL

    @classmethod
    def effective(cls, options: HealthOptions | None, image: Mapping[str, Any] | None) -> HealthConfig | None:
        """The image's HEALTHCHECK (docker's ``Healthcheck``: Test, Interval, Timeout, Retries,
        StartPeriod, StartInterval) with the options laid over it; None when there is no check (or it is
        disabled)."""
        if options is not None and options.disable:
            return None
        base: dict[str, Any] = {}
        if isinstance(image, Mapping) and image.get("Test"):
            try:
                test = _test(list(image.get("Test") or []))
            except InvalidArgument:
                test = ("NONE",)  # a malformed HEALTHCHECK in an image disables it rather than failing run
            base["test"] = test
            for key, field in (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start_period"),
                               ("StartInterval", "start_interval")):
                if isinstance(image.get(key), int) and image[key] > 0:
                    base[field] = int(image[key])
            if isinstance(image.get("Retries"), int) and image["Retries"] > 0:
                base["retries"] = int(image["Retries"])
        if options is not None:
            for field in ("test", "interval", "timeout", "retries", "start_period", "start_interval"):
                value = getattr(options, field)
                if value is not None:
                    base[field] = value
        test = base.get("test")
        if not test or test == ("NONE",):
            return None
        if base.get("retries") == 0:
            base["retries"] = DEFAULT_RETRIES
        return cls(**base)

    def label(self) -> str:
        return json.dumps({**asdict(self), "test": list(self.test)}, separators=(",", ":"))

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> HealthConfig | None:
        text = labels.get(LABEL.HEALTHCHECK)
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(test=tuple(str(a) for a in data["test"]), interval=int(data["interval"]),
                       timeout=int(data["timeout"]), retries=int(data["retries"]),
                       start_period=int(data["start_period"]),
                       # containers made before start intervals were kept have docker's default
                       start_interval=int(data.get("start_interval") or DEFAULT_START_INTERVAL))
        except (ValueError, KeyError, TypeError):
            return None

    def args(self) -> list[str]:
        if self.test[0] == "CMD-SHELL":
            return ["/bin/sh", "-c", self.test[1]]
        return list(self.test[1:])

    def to_record(self) -> dict[str, Any]:
        return {"test": list(self.test), "interval": self.interval, "timeout": self.timeout,
                "retries": self.retries, "start_period": self.start_period, "start_interval": self.start_interval}

    def next_interval(self, running_for: float) -> int:
        """The time to the next probe (ns) of a task that has run ``running_for`` seconds: the start
        interval within the start period, the interval after it (docker's schedule)."""
        if self.start_period and running_for < self.start_period / SECOND:
            return self.start_interval
        return self.interval


def state_of(labels: Mapping[str, str]) -> dict[str, Any] | None:
    try:
        state = json.loads(labels.get(LABEL.HEALTH) or "null")
    except ValueError:
        return None
    return state if isinstance(state, dict) and state.get("status") in STATUSES else None


def health_of(labels: Mapping[str, str], pid: int | None) -> dict[str, Any] | None:
    """The record's ``health``: {status, failing_streak, log} of the running task ``pid``; ``starting``
    when its check has not been recorded since it started; None without a check or a running task."""
    if LABEL.HEALTHCHECK not in labels or not pid:
        return None
    state = state_of(labels)
    if state is None or state.get("pid") != pid:
        return {"status": "starting", "failing_streak": 0, "log": []}
    return {"status": state["status"], "failing_streak": int(state.get("failing_streak") or 0),
            "log": list(state.get("log") or [])}


