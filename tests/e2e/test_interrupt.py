"""Interrupted stages (SIGINT, SIGKILL, at seeded random points) leave nothing half-written in
DVC's cache, and the next `dvc repro` finishes with byte-identical outputs: the same params and
seed give the same bytes on one machine, except the files that record wall time (TIMED)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

# Outputs that record how long things took (seconds, images/s): their bytes differ run to run.
TIMED = ("scores.json", "history.csv")
SEED = 14


def _outs(repo: Path, stage: str) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for o in lock["stages"][stage]["outs"]}


def _cache_is_sound(repo: Path) -> None:
    """Every object in DVC's cache holds the bytes its name promises (a half-written file
    would not)."""
    objects = [p for p in (repo / ".dvc/cache/files/md5").glob("*/*") if p.is_file()]
    assert objects
    for path in objects:
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        expected = path.parent.name + path.name.removesuffix(".dir")
        if path.name.endswith(".dir"):  # a directory's listing: checked as JSON
            json.loads(path.read_text())
            continue
        assert digest == expected, path


def _interrupt(repo: Path, stage: str, sig: signal.Signals, after_s: float) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(repo)
    proc = subprocess.Popen(
        ["dvc", "repro", "--force", "--single-item", stage],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the signal reaches the stage too
    )
    time.sleep(after_s)
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    proc.wait(60)


@pytest.mark.parametrize(
    ("stage", "sig"),
    [("train_cpn", signal.SIGKILL), ("infer_2d", signal.SIGKILL), ("train_lifter", signal.SIGINT)],
)
def test_an_interrupted_stage_reruns_to_the_same_bytes(
    tiny_repo: Path,
    first_repro: str,
    run_in: Callable[..., object],
    stage: str,
    sig: signal.Signals,
) -> None:
    before = _outs(tiny_repo, stage)
    after_s = random.Random(f"{SEED}-{stage}").uniform(4.0, 12.0)  # startup to mid-work
    _interrupt(tiny_repo, stage, sig, after_s)
    _cache_is_sound(tiny_repo)
    run_in(tiny_repo, "dvc", "repro", stage)
    after = _outs(tiny_repo, stage)
    assert sorted(after) == sorted(before)
    differ = [p for p in before if before[p] != after[p] and not p.endswith(TIMED)]
    assert differ == [], f"interrupted at {after_s:.1f} s, then rerun: {differ} changed"
    assert "changed" not in run_in(tiny_repo, "dvc", "status", stage).stdout  # type: ignore[attr-defined]
    _cache_is_sound(tiny_repo)
