"""The training engine: devices, the checkpoint format and its resume rule."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from tasks import engine


def _state() -> dict[str, object]:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "epoch": 1, "config": {}, "fingerprint": {"a": 1}}  # fmt: skip


def test_device_choice() -> None:
    assert engine.select_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert engine.select_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda was asked for"):
            engine.select_device("cuda")
    with pytest.raises(ValueError, match="tpu"):
        engine.select_device("tpu")


@pytest.mark.parametrize("fraction", [0.0, 0.5])
def test_an_unreadable_checkpoint_is_named_and_set_aside(
    tmp_path: Path, fraction: float, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "checkpoint.pt"
    engine.save_checkpoint(path, _state())
    keep = int(fraction * path.stat().st_size)
    path.write_bytes(path.read_bytes()[:keep])  # zero bytes, or truncated
    with pytest.raises(
        engine.CheckpointError, match=rf"{path}: unreadable checkpoint \({keep} bytes"
    ):
        engine.load_checkpoint(path)
    with caplog.at_level(logging.WARNING, logger="pose3d"):
        assert engine.resume_state(path, {"a": 1}) is None
    assert not path.exists() and (tmp_path / "checkpoint.pt.unreadable").is_file()
    assert "set aside" in caplog.text and str(path) in caplog.text


def test_resume_rule(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    assert engine.resume_state(path, {"a": 1}) is None  # none yet
    engine.save_checkpoint(path, _state())
    assert engine.resume_state(path, {"a": 1}) is not None
    assert engine.resume_state(path, {"a": 2}) is None  # another run's
    torch.save({"weights": 1}, path)
    with pytest.raises(engine.CheckpointError, match="no 'model'"):
        engine.load_checkpoint(path)


def test_fingerprint_follows_code_and_data(monkeypatch: pytest.MonkeyPatch) -> None:
    a = engine.fingerprint({"lr": 1}, 0, "tasks.train_lifter", "rows")
    assert a == engine.fingerprint({"lr": 1}, 0, "tasks.train_lifter", "rows")
    assert a != engine.fingerprint({"lr": 1}, 0, "tasks.train_lifter", "other rows")
    monkeypatch.setattr(engine, "code_digest", lambda module: "edited")
    assert a != engine.fingerprint({"lr": 1}, 0, "tasks.train_lifter", "rows")


def test_warmup_cosine_warms_up_then_decays_to_zero() -> None:
    factors = [engine.warmup_cosine(s, 100, 0.05) for s in range(100)]
    assert factors[0] == pytest.approx(0.2) and max(factors) == pytest.approx(1.0)
    assert factors[4] == pytest.approx(1.0) and factors[-1] < 0.01
    assert all(a >= b for a, b in zip(factors[4:], factors[5:], strict=False))
    assert engine.warmup_cosine(0, 10, 0.0) == 1.0  # at least one warm-up step, which is the peak
