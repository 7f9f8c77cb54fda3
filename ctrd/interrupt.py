"""Ctrl-C for the gRPC calls in flight.

A program that handles SIGINT itself by setting an event (``pouchsh -c``: the first Ctrl-C asks the
running statement to stop) names that event here; ctrd.connection then cancels every call that is
waiting for containerd when the event becomes set and raises Interrupted for it. Calls begun after the
event was set run normally: they are the ones that stop what the user interrupted (a kill, a delete).
A KeyboardInterrupt raised inside a waiting call cancels that call and propagates. No grpc import here,
so the CLI can name its event before it knows whether it will talk to containerd at all.
"""

from __future__ import annotations

import threading

__all__ = ["cancel_calls_on", "event"]

_event: threading.Event | None = None


def cancel_calls_on(cancel: threading.Event | None) -> None:
    """Make ``cancel`` (None: nothing) the event that interrupts calls in flight."""
    global _event
    _event = cancel


def event() -> threading.Event | None:
    return _event
