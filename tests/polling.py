"""Waiting on a real server in tests (imported as `polling`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(what: str, ready: Callable[[], T | None], deadline: float, every_s: float = 0.3) -> T:
    """Poll `ready` until it returns something truthy (exceptions count as not yet); an
    AssertionError naming `what` once `time.monotonic()` passes `deadline`."""
    while True:
        try:
            found = ready()
        except Exception:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every_s)
