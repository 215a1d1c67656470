"""Waiting on a real server in tests, and serving the pipeline deployment against one
(imported as `polling`)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
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


@contextlib.contextmanager
def served_deployment(repo: Path, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """A Prefect server started in `repo` (`flows.server.prefect_server`) and
    `python -m flows.serve` there with `env` (its output to `log`); yields the API URL and stops
    both after."""
    from flows.server import free_port, prefect_server

    with prefect_server(free_port(), cwd=str(repo)) as api, log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.serve"],
            cwd=repo,
            env={**env, "PREFECT_API_URL": api},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield api
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
