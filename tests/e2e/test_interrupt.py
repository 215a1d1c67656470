"""Interrupted stages (SIGKILL, SIGINT, at a seeded random point once work is under way) leave
nothing half-written in DVC's cache, and the next `dvc repro` finishes with byte-identical
outputs: the same params and seed give the same bytes on one machine, except the files that
record wall time (TIMED)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

# Outputs that record how long things took (seconds, images/s): their bytes differ run to run.
# A checkpoint holds its training history too: its weights are compared instead.
TIMED = ("scores.json", "history.csv", "checkpoint.pt")
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


def _interrupt(
    repo: Path, env: dict[str, str], stage: str, sig: signal.Signals, marker: str, delay_s: float
) -> str:
    """Force `stage` to run again and send `sig` to its process group `delay_s` after the first
    output line that matches `marker` (work under way). Returns what it printed."""
    proc = subprocess.Popen(
        ["dvc", "repro", "--force", "--single-item", stage],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the signal reaches the stage too
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if re.search(marker, line):
            time.sleep(delay_s)
            os.killpg(proc.pid, sig)
            break
    try:
        rest, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"{stage} still ran 60 s after {sig.name}") from None
    return "".join(lines) + rest


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return dict(torch.load(path, map_location="cpu", weights_only=False)["model"])


@pytest.mark.parametrize(
    ("stage", "sig", "marker"),
    [
        ("train_cpn", signal.SIGKILL, r"epoch 1/1: 1/"),  # after the first training step
        ("infer_2d", signal.SIGINT, r"run_shard-\w+' - Finished"),  # after the first shard
        pytest.param("train_lifter", signal.SIGKILL, r"epoch 1/\d+: \d+/", marks=pytest.mark.slow),
    ],
)
def test_an_interrupted_stage_reruns_to_the_same_bytes(
    tiny_repo: Path,
    first_repro: str,
    run_in: Callable[..., object],
    stage_env: Callable[[Path], dict[str, str]],
    stage: str,
    sig: signal.Signals,
    marker: str,
) -> None:
    run_in(tiny_repo, "dvc", "repro", stage)  # up to date: the uninterrupted run's outputs
    before = _outs(tiny_repo, stage)
    checkpoint = tiny_repo / "data" / stage / "checkpoint.pt"
    weights = _weights(checkpoint) if checkpoint.exists() else None
    checkpoint.unlink(missing_ok=True)  # persisted: without this the run would resume it
    delay_s = random.Random(f"{SEED}-{stage}").uniform(0.0, 0.3)
    said = _interrupt(tiny_repo, stage_env(tiny_repo), stage, sig, marker, delay_s)
    assert re.search(marker, said), said[
        -3000:
    ]  # it was stopped while working, not before or after
    _cache_is_sound(tiny_repo)
    run_in(tiny_repo, "dvc", "repro", "--single-item", stage)
    after = _outs(tiny_repo, stage)
    assert sorted(after) == sorted(before)
    differ = [p for p in before if before[p] != after[p] and not p.endswith(TIMED)]
    assert differ == [], f"interrupted {delay_s:.2f} s after {marker!r}, then rerun: {differ}"
    if weights is not None:  # the checkpoint's bytes hold timings; its weights must not move
        rerun = _weights(checkpoint)
        assert all(torch.equal(weights[k], rerun[k]) for k in weights)
    _cache_is_sound(tiny_repo)
