"""The paper's configuration stays reproducible: the preset sets every train_lifter key."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pose3d.config import load_params, to_dict


def test_martinez_preset_covers_the_recipe_and_turns_augmentation_off(repo_root: Path) -> None:
    spec = importlib.util.spec_from_file_location("h36m_lifter", repo_root / "bench/h36m_lifter.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    preset = repo_root / "bench" / "presets" / "martinez2017.yaml"
    overrides = bench.preset_overrides(preset)
    cfg = load_params(repo_root / "params.yaml", overrides).train_lifter
    set_keys = {o.split("=", 1)[0].removeprefix("train_lifter.") for o in overrides}
    flat = {f"{k}.{kk}" if isinstance(v, dict) else k for k, v in to_dict(cfg).items()
            for kk in (v if isinstance(v, dict) else [None])}  # fmt: skip
    assert flat <= set_keys, f"preset misses {sorted(flat - set_keys)}"
    assert cfg.model.dropout == 0.5 and cfg.batch_size == 64 and cfg.epochs == 200
    assert cfg.augment.probability == 0.0 and not cfg.flip_train
