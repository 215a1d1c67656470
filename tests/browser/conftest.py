"""A page opened in headless Chromium over the DevTools protocol (a plain websocket, no browser
download): what it logged and threw, and the answers to a few DOM queries. Tests here skip with
the reason where no Chromium is installed (`make test-browser` installs Debian's)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless=new", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
    "--disable-extensions", "--disable-background-networking", "--mute-audio",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader",  # WebGL (plotly's 3D) on the CPU
    "--remote-debugging-port=0", "--remote-allow-origins=*",
)  # fmt: skip
READY_TIMEOUT_S = 60.0


@dataclass
class PageRun:
    """What a page did: console errors, uncaught exceptions and log errors (as text), and the
    values of the expressions asked for."""

    errors: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


def find_chromium() -> str | None:
    """$CHROMIUM, else the first of `BROWSERS` on PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _devtools_url(proc: subprocess.Popen[str], timeout_s: float) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line.startswith("DevTools listening on "):
            return line.split(" on ", 1)[1].strip()
        if not line and proc.poll() is not None:
            break
    raise RuntimeError(f"Chromium gave no DevTools address within {timeout_s} s")


class _Session:
    """Commands to one page target; events are collected while waiting for answers."""

    def __init__(self, ws: Any, session_id: str) -> None:
        self.ws, self.session_id, self.ids = ws, session_id, itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, timeout_s: float = 10.0, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        self.ws.send(json.dumps({"id": number, "sessionId": self.session_id, "method": method,
                                 "params": params}))  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if msg.get("id") == number:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            self.events.append(msg)

    def wait_for(self, method: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self.ws.recv(timeout=deadline - time.monotonic())))


def _errors(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(details.get("exception", {}).get("description") or details["text"])
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"{params['entry']['source']}: {params['entry']['text']}")
    return errors


def open_page(
    browser: str,
    page: Path | str,
    expressions: dict[str, str],
    settle_s: float = 2.0,
    ready: str | None = None,
) -> PageRun:
    """Load `page` (a file, or a URL) in headless Chromium, let it settle (and, for a page that
    draws itself after loading, wait up to `READY_TIMEOUT_S` for the JS expression `ready` to
    be true), evaluate `expressions` (name -> JS)."""
    from websockets.sync.client import connect

    # Chromium's helper processes can still write to the profile as it is removed
    with tempfile.TemporaryDirectory(prefix="chromium.", ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen([browser, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            with connect(_devtools_url(proc, 30.0), max_size=None) as ws:
                root = _Session(ws, "")
                ws.send(json.dumps({"id": 0, "method": "Target.createTarget",
                                    "params": {"url": "about:blank"}}))  # fmt: skip
                target = json.loads(ws.recv(timeout=10))["result"]["targetId"]
                ws.send(json.dumps({"id": -1, "method": "Target.attachToTarget",
                                    "params": {"targetId": target, "flatten": True}}))  # fmt: skip
                while "sessionId" not in (msg := json.loads(ws.recv(timeout=10))).get("result", {}):
                    root.events.append(msg)
                tab = _Session(ws, msg["result"]["sessionId"])
                for domain in ("Runtime", "Log", "Page"):
                    tab.send(f"{domain}.enable")
                url = page if isinstance(page, str) else page.resolve().as_uri()
                tab.send("Page.navigate", url=url)
                tab.wait_for("Page.loadEventFired", 60.0)
                deadline = time.monotonic() + READY_TIMEOUT_S
                while ready and time.monotonic() < deadline:
                    answer = tab.send("Runtime.evaluate", expression=ready, returnByValue=True)
                    if answer["result"].get("value"):
                        break
                    time.sleep(0.2)
                time.sleep(settle_s)
                values = {
                    name: tab.send("Runtime.evaluate", expression=js, returnByValue=True)["result"]
                    .get("value")
                    for name, js in expressions.items()
                }  # fmt: skip
                return PageRun(_errors(tab.events), values)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Callable[..., PageRun]]:
    """`open_page` bound to the installed Chromium; skips where there is none."""
    browser = find_chromium()
    if browser is None:
        pytest.skip(
            f"no Chromium: none of {', '.join(BROWSERS)} on PATH and $CHROMIUM unset "
            "(`make test-browser` installs Debian's chromium)"
        )
    yield lambda page, expressions, **kw: open_page(browser, page, expressions, **kw)
