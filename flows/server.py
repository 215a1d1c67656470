"""Run a command beside a Prefect server on 127.0.0.1, so every flow run it starts reports to
one server (and shows in its UI) instead of starting a temporary server of its own (about 8 s
per stage). State lives in the repository (``.prefect/``, prefect.toml's ``home``).

    python -m flows.server [--port 4200] -- COMMAND ...

If this checkout's server already answers on the port (``make ui`` in another shell; it left
``.prefect/server.json``), the command uses it and the runs appear there live; otherwise a server
is started on the port (``--port 0``, or the port taken by another project's server: a free one),
the command runs, and the server is stopped. ``make run`` runs ``dvc repro`` this way; ``make ui``
runs ``python -m flows.serve`` this way and keeps the server for as long as it serves.
Exits with the command's exit code.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
OWNER_FILE = ".prefect/server.json"  # in the checkout: the port and pid of the server it started
_PR_SET_PDEATHSIG = 1  # prctl(2)
STARTUP_TIMEOUT_S = 120.0
HEALTH_TIMEOUT_S = 2.0  # a busy 2-core machine can take long (prefect.toml says the same)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_problem(api_url: str | None, timeout_s: float = HEALTH_TIMEOUT_S) -> str | None:
    """Why no Prefect server answers at `api_url` (one line), or None if ``/health`` answers."""
    if not api_url:
        return "PREFECT_API_URL is not set"
    url = api_url.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            if response.status == 200:
                return None
            reason = f"HTTP {response.status}"
    except urllib.error.HTTPError as err:
        reason = f"HTTP {err.code}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = str(getattr(err, "reason", err))
    return f"no Prefect server answers at PREFECT_API_URL={api_url} ({reason})"


def owns_server(folder: Path, port: int) -> bool:
    """Whether the server on `port` is the one this checkout (`folder`) started: its
    `OWNER_FILE` names the port and a process that is alive."""
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
        pid = int(owner["pid"])
        if int(owner["port"]) != port:
            return False
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def wait_for_server(api_url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None) -> None:
    """Poll ``/health`` until it answers; RuntimeError if `proc` exits or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while (problem := server_problem(api_url, timeout_s=1.0)) is not None:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no Prefect server after {timeout_s:.0f} s: {problem}")
        time.sleep(0.5)


@contextmanager
def prefect_server(
    port: int, timeout_s: float = STARTUP_TIMEOUT_S, cwd: str | None = None
) -> Iterator[str]:
    """Yield the API URL of the server on `port`, starting one in `cwd` (its prefect.toml says
    where the state goes) and stopping it after, unless this checkout's own already answers
    there (`owns_server`). Another project's server on the port is left alone: this checkout
    starts its own on a free port, so its runs never show in another project's UI.

    A server started here stops with this process, even when that is killed (``kill -9``). Only
    one asked for on a port (not 0) is recorded in `OWNER_FILE`, for later commands to reuse."""
    folder = Path(cwd or ".")
    record = port != 0
    if port:
        api_url = f"http://{HOST}:{port}/api"
        if server_problem(api_url, timeout_s=1.0) is None:
            if owns_server(folder, port):
                yield api_url
                return
            print(f"a Prefect server not started by this checkout answers on port {port}; "
                  "starting this checkout's own on a free port", file=sys.stderr)  # fmt: skip
            port = 0
    port = port or free_port()
    api_url = f"http://{HOST}:{port}/api"
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_SERVER_UI_API_URL"] = api_url  # else the UI asks the default port, 4200
    # the server's output goes to a file, not a pipe: a long-lived server must never block
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)  # fmt: skip
        owner = folder / OWNER_FILE
        try:
            _started(api_url, timeout_s, proc, log)
            if record:
                owner.parent.mkdir(parents=True, exist_ok=True)
                owner.write_text(json.dumps({"port": port, "pid": proc.pid}))
            yield api_url
        finally:
            if record:
                owner.unlink(missing_ok=True)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _die_with_parent() -> None:
    """In the server's process before it starts (Linux): ask the kernel for SIGTERM when the
    process that started it dies, however it dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _started(api_url: str, timeout_s: float, proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    """`wait_for_server`, with the last lines the server said in the error."""
    try:
        wait_for_server(api_url, timeout_s, proc)
    except RuntimeError as err:
        proc.terminate()
        proc.wait(30)
        log.seek(0)
        tail = log.read().decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{err}; it said:\n" + "\n".join(tail)) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=4200, help="0: a free port (default 4200)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (python -m flows.server -- COMMAND ...)")
    try:
        with prefect_server(args.port) as api_url:
            print(f"Prefect server: {api_url.removesuffix('/api')}", file=sys.stderr, flush=True)
            try:
                return subprocess.call(command, env=os.environ | {"PREFECT_API_URL": api_url})
            except KeyboardInterrupt:
                return 130
    except RuntimeError as err:
        parser.exit(1, f"{parser.prog}: {err}\n")


if __name__ == "__main__":
    raise SystemExit(main())
