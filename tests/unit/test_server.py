"""flows.server reuses only the Prefect server this checkout started (`owns_server`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from flows.server import OWNER_FILE, owns_server


def _owner(folder: Path, port: int, pid: int) -> None:
    (folder / OWNER_FILE).parent.mkdir(parents=True, exist_ok=True)
    (folder / OWNER_FILE).write_text(json.dumps({"port": port, "pid": pid}))


def test_only_the_server_this_checkout_started_is_reused(tmp_path: Path) -> None:
    """Another checkout's (or project's) server on port 4200 answers /health just the same;
    without this checkout's owner file naming that port and a live process it is not ours."""
    assert not owns_server(tmp_path, 4200)  # no owner file: another project's server
    _owner(tmp_path, 4200, os.getpid())
    assert owns_server(tmp_path, 4200)
    assert not owns_server(tmp_path, 4201)  # ours is on another port
    _owner(tmp_path, 4200, 2**22 + 12345)  # a process that is gone (a killed `make ui`)
    assert not owns_server(tmp_path, 4200)
    (tmp_path / OWNER_FILE).write_text("{not json")
    assert not owns_server(tmp_path, 4200)
