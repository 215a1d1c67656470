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


def _fit(out: Path, epochs: int, run_id: dict[str, int], seed: int = 0) -> engine.FitResult:
    """A tiny regression trained with the engine's fit loop, as every trainer uses it."""
    engine.seed_everything(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: engine.warmup_cosine(s, 4 * 8))
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))
    y = x.sum(1, keepdim=True)
    training = engine.Training(model, opt, sched, out, run_id, epochs, ("epoch", "lr",
                               "train_loss", "train_seconds"), {"config": {"width": 8}})  # fmt: skip

    def run_epoch(epoch: int) -> dict[str, float]:
        gen = torch.Generator().manual_seed(engine.epoch_seed(seed, epoch))
        stats = engine.train_one_epoch(
            model, opt, sched, engine.tensor_batches((x, y), 8, gen),
            lambda b: (torch.nn.functional.mse_loss(model(b[0]), b[1]), len(b[0])), 8, "fit",
        )  # fmt: skip
        return {"train_loss": stats.loss, "samples": stats.samples, "train_seconds": stats.seconds}

    return engine.fit(training, run_epoch, lambda row: f"loss {row['train_loss']:.3f}")


def test_fit_resumes_to_the_same_model_and_history(tmp_path: Path) -> None:
    """The one resume test of the three trainers' loop: a run stopped after an epoch and rerun
    ends where an uninterrupted run ends (weights and history); a complete run trains nothing
    and restores its history; another fingerprint trains from scratch."""
    whole = _fit(tmp_path / "whole", 4, {"run": 1})
    assert whole.epochs_run == 4 and whole.samples == 4 * 64 and whole.samples_per_s > 0
    assert whole.history[-1]["train_loss"] < whole.history[0]["train_loss"]
    assert [h["epoch"] for h in whole.history] == [1, 2, 3, 4]
    saved = engine.load_checkpoint(whole.checkpoint)
    assert saved["epoch"] == 4 and saved["config"] == {"width": 8} and "rng" in saved

    # stopped after its first epoch: the schedule here does not depend on `epochs`, so a 1-epoch
    # run's checkpoint is the 4-epoch run's after one epoch (the fingerprint says they match)
    partial = _fit(tmp_path / "partial", 1, {"run": 1})
    assert partial.epochs_run == 1
    resumed = _fit(tmp_path / "partial", 4, {"run": 1})
    assert resumed.epochs_run == 3
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in whole.history]
    a, b = engine.load_checkpoint(whole.checkpoint), engine.load_checkpoint(resumed.checkpoint)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])

    (tmp_path / "partial" / engine.HISTORY).unlink()  # DVC deletes it before a rerun
    again = _fit(tmp_path / "partial", 4, {"run": 1})
    assert again.epochs_run == 0 and again.history == resumed.history
    assert (tmp_path / "partial" / engine.HISTORY).read_text().count("\n") == 5
    other = _fit(tmp_path / "partial", 4, {"run": 2})  # another run's checkpoint: from scratch
    assert other.epochs_run == 4


def test_a_checkpoint_of_another_trainer_is_named_as_such(tmp_path: Path) -> None:
    """A detector checkpoint given where a CPN's is needed says so, by kind, whether it says
    its kind (written by `fit`) or is recognised by its entries (written before)."""
    state = _state()
    path = tmp_path / "det.pt"
    engine.save_checkpoint(path, {**state, "kind": "detector"})
    with pytest.raises(
        engine.CheckpointError, match=r"det.pt: a detector checkpoint, where a cpn checkpoint"
    ):
        engine.load_checkpoint(path, ("model", "config", "extra"), kind="cpn")
    assert engine.load_checkpoint(path, kind="detector")["kind"] == "detector"
    older = {
        "lifter": {**state, "stats": {}},
        "cpn": {**state, "extra": {"margin": 0.25}},
        "detector": {**state, "config": {"detector": {}, "image_size": 224}},
        "": state,
    }
    assert {engine.checkpoint_kind(s): k for k, s in older.items()} == {k: k for k in older}
    engine.save_checkpoint(path, older["cpn"])
    with pytest.raises(engine.CheckpointError, match="a cpn checkpoint, where a lifter"):
        engine.load_checkpoint(path, ("model", "config", "stats"), kind="lifter")
