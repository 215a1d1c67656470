"""Human3.6M lifter benchmark: train on some subjects, evaluate Protocols 1 and 2 on others.

    .venv/bin/python bench/h36m_lifter.py --h36m-root ../shared/data/h36m \\
        --train S1,S5,S6,S7 --test S8 --input gt --json /tmp/bench_gt.json

The recipe is the `train_lifter` section of --params (default params.yaml), changed by
--preset FILE (a YAML file holding a `train_lifter:` mapping, e.g. bench/presets/martinez2017.yaml
for the paper's configuration), then by --set train_lifter.key=value, then by --epochs. Data go
through the pipeline's own tasks, in a scratch folder: `extract` (frames table of the tree, every
frame, all cameras, every action), `import_keypoints` (the `gt` or `stacked_hourglass` cache),
the frames x keypoints join of `train_lifter`, then `train_lifter` and `evaluate`'s scoring.
Prints, and writes as JSON: P1 and P2 MPJPE (mean over actions), per-action P1, training wall
seconds, training samples per second, the machine's matmul GFLOP/s and the training
step's achieved GFLOP/s (3x the forward matmul FLOPs per sample times samples per second). The
step is compared with the matmul rate of `train_lifter.model.matmul_dtype` (float32 or bfloat16,
the dtype of the blocks' products); both rates are printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from pose3d.config import Params, load_params, to_dict
from pose3d.frames import read_frames
from pose3d.io import write_json_atomic
from pose3d.keypoints import read_keypoints
from pose3d.lifting import LiftingDataset
from pose3d.lifting_tables import (
    Selection,
    lifting_from_tables,
    read_lifting_cameras,
    select_frames,
)
from pose3d.skeleton import H36M17_JOINTS
from tasks.evaluate import score
from tasks.extract import extract_h36m
from tasks.import_keypoints import import_gt, import_stacked_hourglass
from tasks.lifter import train_lifter
from tasks.lifter_inference import load_lifter, predict_dataset

REPO = Path(__file__).resolve().parents[1]


def matmul_gflops(
    threads: int, n: int = 2048, seconds: float = 2.0, dtype: str = "float32"
) -> float:
    """Best GFLOP/s of an n x n x n matmul in `dtype` over a few timed rounds."""
    torch.set_num_threads(threads)
    dt = getattr(torch, dtype)
    a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
    for _ in range(2):
        a @ b
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def preset_overrides(path: Path) -> list[str]:
    """A preset YAML file {train_lifter: {...}} -> ['train_lifter.key=value', ...]."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("train_lifter"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'train_lifter' mapping")
    out = []
    for key, value in data["train_lifter"].items():
        if isinstance(value, dict):
            out += [f"train_lifter.{key}.{k}={json.dumps(v)}" for k, v in value.items()]
        else:
            out.append(f"train_lifter.{key}={json.dumps(value)}")
    return out


def pipeline_data(
    params: Params, root: Path, subjects: tuple[list[str], list[str]], source: str, work: Path
) -> tuple[LiftingDataset, LiftingDataset, float]:
    """Train and test rows through extract -> import_keypoints -> the lifter's join.
    Returns them and the seconds it took."""
    t0 = time.perf_counter()
    extract_h36m(root, params.extract, work / "extract")
    cache = work / "keypoints" / f"{source}.parquet"
    if source == "gt":
        import_gt(work / "extract", cache)
    else:
        import_stacked_hourglass(root, cache, subjects[0] + subjects[1])
    frames, keypoints = read_frames(work / "extract" / "h36m.parquet"), read_keypoints(cache)
    cameras = read_lifting_cameras(root / "cameras.h5")
    parts = []
    for name, group in zip(("train", "test"), subjects, strict=True):
        rows = select_frames(frames, Selection("h36m", tuple(group)), f"{name} subjects")
        data, unmatched = lifting_from_tables(rows, keypoints, cameras)
        print(f"{name}: {len(data)} rows from {rows.num_rows} frames ({unmatched} without 2D)")
        parts.append(data)
    return parts[0], parts[1], time.perf_counter() - t0


def run(args: argparse.Namespace) -> dict[str, Any]:
    overrides = preset_overrides(Path(args.preset)) if args.preset else []
    overrides += list(args.set)
    if args.epochs is not None:
        overrides.append(f"train_lifter.epochs={args.epochs}")
    subjects = (args.train.split(","), args.test.split(","))
    overrides += [
        f"extract.h36m_subjects={json.dumps(subjects[0] + subjects[1])}",
        "extract.frame_stride=1", "extract.decode_frames=false", "extract.challenge_splits=[]",
    ]  # fmt: skip
    params = load_params(args.params, overrides)
    cfg = params.train_lifter
    torch.set_num_threads(args.threads)
    peaks = {dt: matmul_gflops(args.threads, dtype=dt) for dt in ("float32", "bfloat16")}
    peak = peaks[cfg.model.matmul_dtype]  # the blocks' products: nearly all the FLOPs
    out_dir = Path(args.out or tempfile.mkdtemp(prefix="h36m_lifter_"))
    train, test, data_s = pipeline_data(
        params, Path(args.h36m_root), subjects, args.input, out_dir / "data"
    )
    print(f"data prepared in {data_s:.1f} s; matmul GFLOP/s ({args.threads} threads): "
          + ", ".join(f"{dt} {v:.1f}" for dt, v in peaks.items()))  # fmt: skip
    t0 = time.perf_counter()
    result = train_lifter(train, test, cfg, out_dir, params.seed)
    wall = time.perf_counter() - t0
    lifter = load_lifter(result.checkpoint, num_joints=test.num_joints)
    pred = predict_dataset(lifter, test, cfg.flip_test)
    ev = score(pred, test)
    return {
        "input": args.input, "train_subjects": args.train, "test_subjects": args.test,
        "mpjpe_p1_mm": ev.metrics["mpjpe_p1_mm"], "mpjpe_p2_mm": ev.metrics["mpjpe_p2_mm"],
        "per_action_p1_mm": {a: v[0] for a, v in ev.per_action.items()},
        "per_action_p2_mm": {a: v[1] for a, v in ev.per_action.items()},
        "per_joint_p1_mm": dict(zip(H36M17_JOINTS, ev.per_joint_mm.tolist(), strict=True)),
        "data_seconds": data_s,
        "train_wall_seconds": result.train_seconds, "wall_seconds_with_validation": wall,
        "train_samples_per_second": result.samples_per_s, "epochs": cfg.epochs,
        "matmul_gflops": peak, "matmul_gflops_by_dtype": peaks,
        "matmul_dtype": cfg.model.matmul_dtype, "train_step_gflops": result.step_gflops,
        "train_step_fraction_of_matmul": result.step_gflops / peak, "threads": args.threads,
        "history": result.history, "train_lifter": to_dict(cfg), "seed": params.seed,
        "train_rows": len(train), "test_rows": len(test), "out_dir": str(out_dir),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--h36m-root", required=True, help="tree in the 3d-pose-baseline layout")
    ap.add_argument("--train", default="S1,S5,S6,S7,S8", help="comma-separated subjects")
    ap.add_argument("--test", default="S9,S11", help="comma-separated subjects")
    ap.add_argument("--input", choices=("gt", "stacked_hourglass"), default="gt")
    ap.add_argument("--epochs", type=int, default=None, help="overrides train_lifter.epochs")
    ap.add_argument("--params", default=str(REPO / "params.yaml"))
    ap.add_argument("--preset", default=None, help="YAML file with a train_lifter mapping")
    ap.add_argument("--set", action="append", default=[], metavar="train_lifter.KEY=VALUE")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="checkpoint folder (a rerun resumes); default temp")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", force=True)
    res = run(args)
    print(f"input {res['input']}: train {res['train_subjects']} -> test {res['test_subjects']}")
    for action, err in sorted(res["per_action_p1_mm"].items()):
        print(f"  {action:<14s} P1 {err:6.1f} mm   P2 {res['per_action_p2_mm'][action]:6.1f} mm")
    print(
        f"MPJPE Protocol 1: {res['mpjpe_p1_mm']:.1f} mm   Protocol 2: {res['mpjpe_p2_mm']:.1f} mm"
    )
    print(f"training: {res['train_wall_seconds']:.0f} s, {res['train_samples_per_second']:.0f} samples/s, "
          f"step {res['train_step_gflops']:.1f} GFLOP/s = {100 * res['train_step_fraction_of_matmul']:.0f}% "
          f"of the {res['matmul_dtype']} matmul {res['matmul_gflops']:.1f} GFLOP/s "
          f"({res['threads']} threads)")  # fmt: skip
    if args.json:
        write_json_atomic(args.json, res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
