"""The Human3.6M lifter benchmark: the paper's preset sets every train_lifter key; the validation
protocol holds each subject out in turn."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from pose3d.config import load_params, to_dict


def _bench(repo_root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("h36m_lifter", repo_root / "bench/h36m_lifter.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_martinez_preset_covers_the_recipe_and_turns_augmentation_off(repo_root: Path) -> None:
    bench = _bench(repo_root)
    preset = repo_root / "bench" / "presets" / "martinez2017.yaml"
    overrides = bench.preset_overrides(preset)
    cfg = load_params(repo_root / "params.yaml", overrides).train_lifter
    set_keys = {o.split("=", 1)[0].removeprefix("train_lifter.") for o in overrides}
    flat = {f"{k}.{kk}" if isinstance(v, dict) else k for k, v in to_dict(cfg).items()
            for kk in (v if isinstance(v, dict) else [None])}  # fmt: skip
    assert flat <= set_keys, f"preset misses {sorted(flat - set_keys)}"
    assert cfg.model.dropout == 0.5 and cfg.batch_size == 64 and cfg.epochs == 200
    assert cfg.augment.probability == 0.0 and not cfg.flip_train


def test_holdout_runs_hold_each_subject_out_in_turn(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = _bench(repo_root)
    seen: list[tuple[str, str, str]] = []

    def fake_run(args: argparse.Namespace) -> dict[str, float | str]:
        seen.append((args.train, args.test, args.out))
        p1 = {"S7": 50.0, "S8": 60.0}[args.test]
        return {"mpjpe_p1_mm": p1, "mpjpe_p2_mm": p1 - 10, "train_seconds": 100.0,
                "train_samples_per_second": 10.0}  # fmt: skip

    monkeypatch.setattr(bench, "run", fake_run)
    monkeypatch.setattr(bench, "_print_run", lambda res: None)
    args = argparse.Namespace(
        subjects="S1,S5,S6,S7,S8", holdout="S7,S8", out=str(tmp_path), input="gt"
    )
    res = bench.holdout_runs(args)
    assert [s[:2] for s in seen] == [("S1,S5,S6,S8", "S7"), ("S1,S5,S6,S7", "S8")]
    assert len({s[2] for s in seen}) == 2  # a scratch folder each
    assert res["mean"]["mpjpe_p1_mm"] == 55.0 and res["runs"]["S8"]["mpjpe_p1_mm"] == 60.0
    with pytest.raises(SystemExit, match="S9"):
        bench.holdout_runs(argparse.Namespace(subjects="S1,S5", holdout="S9", out=str(tmp_path)))
