"""Human3.6M lifter benchmark: train on some subjects, evaluate Protocols 1 and 2 on others.

    .venv/bin/python bench/h36m_lifter.py --h36m-root ../shared/data/h36m \\
        --train S1,S5,S6,S7 --test S8 --input gt --json /tmp/bench_gt.json

or, the validation protocol for recipe choices (each held-out subject in turn, trained on the
other subjects of --subjects; prints each figure and their mean):

    .venv/bin/python bench/h36m_lifter.py --h36m-root ../shared/data/h36m \\
        --subjects S1,S5,S6,S7,S8 --holdout S7,S8 --input stacked_hourglass --json /tmp/ho.json

It runs the pipeline's own stage flows (`python -m flows.pipeline --params params/h36m.yaml`:
extract -> import_keypoints -> lifting -> train_lifter -> evaluate) in a scratch folder, on
params/h36m.yaml with the subjects, the 2D input (`gt` or `stacked_hourglass`) and the recipe
changed by --preset FILE (a YAML file holding a `train_lifter:` mapping, e.g.
bench/presets/martinez2017.yaml for the paper's configuration), then by --set
train_lifter.key=value, then by --epochs. Prints, and writes as JSON: P1 and P2 MPJPE (mean over
actions), per-action P1, training seconds and samples per second (history.csv), the machine's
matmul GFLOP/s and the training step's achieved GFLOP/s (3x the forward matmul FLOPs per sample
times samples per second), compared with the rate of `train_lifter.model.matmul_dtype`.
--save FILE copies the trained lifter's checkpoint there, for `pose3d predict --lifter FILE`
(docs/predict.md); ``--set train_lifter.model.floor_input=false`` makes a lifter that needs no
camera, as images of unknown cameras do.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from flows.pipeline import stages_flow
from models.lifter import Lifter
from pose3d.config import load_params, to_dict
from pose3d.io import atomic_path, write_json_atomic

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


def scratch_overrides(args: argparse.Namespace, out: Path) -> list[str]:
    """params/h36m.yaml's changes for this run: subjects, 2D input, scratch folders, recipe."""
    train, test = args.train.split(","), args.test.split(",")
    stages = ("extract", "import_keypoints", "lifting", "train_lifter", "evaluate", "ablation")
    overrides = [f"paths.{stage}={out / stage}" for stage in stages]
    overrides += [
        f"paths.h36m_root={args.h36m_root}",
        f"extract.h36m_subjects={json.dumps(train + test)}",
        f"import_keypoints.sources=[{args.input}]",
        f"lifting.keypoints={out / 'import_keypoints' / f'{args.input}.parquet'}",
        "lifting.reference_keypoints=\"\"",  # one lifter per run: the input asked for
        f"lifting.train={json.dumps(train)}", f"lifting.test={json.dumps(test)}",
        f"device={args.device}",
    ]  # fmt: skip
    overrides += preset_overrides(Path(args.preset)) if args.preset else []
    overrides += list(args.set)
    if args.epochs is not None:
        overrides.append(f"train_lifter.epochs={args.epochs}")
    return overrides


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def run(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out or tempfile.mkdtemp(prefix="h36m_lifter_")).resolve()
    overrides = scratch_overrides(args, out)
    params = load_params(args.params, overrides)
    cfg = params.train_lifter
    torch.set_num_threads(args.threads)
    peaks = {dt: matmul_gflops(args.threads, dtype=dt) for dt in ("float32", "bfloat16")}
    peak = peaks[cfg.model.matmul_dtype]  # the blocks' products: nearly all the FLOPs
    print(f"matmul GFLOP/s ({args.threads} threads): {peaks}")
    t0 = time.perf_counter()
    stages_flow(params_path=args.params, overrides=overrides)
    wall = time.perf_counter() - t0
    metrics = json.loads((out / "evaluate" / "scores.json").read_text())
    history = _csv_rows(out / "train_lifter" / "history.csv")
    seconds = sum(float(h["train_seconds"]) for h in history)
    rate = sum(float(h["samples_per_s"]) * float(h["train_seconds"]) for h in history) / seconds
    step_gflops = 3 * Lifter(cfg.model).matmul_flops_per_sample() * rate / 1e9
    lifting = json.loads((out / "lifting" / "summary.json").read_text())["route"]["parts"]
    actions = _csv_rows(out / "evaluate" / "per_action.csv")
    return {
        "input": args.input, "train_subjects": args.train, "test_subjects": args.test,
        "mpjpe_p1_mm": metrics["mpjpe_p1_mm"], "mpjpe_p2_mm": metrics["mpjpe_p2_mm"],
        "per_action_p1_mm": {a["action"]: float(a["mpjpe_p1_mm"]) for a in actions},
        "per_action_p2_mm": {a["action"]: float(a["mpjpe_p2_mm"]) for a in actions},
        "per_joint_p1_mm": {j["joint"]: float(j["mpjpe_p1_mm"])
                            for j in _csv_rows(out / "evaluate" / "per_joint.csv")},
        "train_seconds": seconds, "pipeline_wall_seconds": wall,
        "train_samples_per_second": rate, "epochs": cfg.epochs,
        "matmul_gflops": peak, "matmul_gflops_by_dtype": peaks,
        "matmul_dtype": cfg.model.matmul_dtype, "train_step_gflops": step_gflops,
        "train_step_fraction_of_matmul": step_gflops / peak, "threads": args.threads,
        "history": history, "train_lifter": to_dict(cfg), "seed": params.seed,
        "train_rows": lifting["train"]["rows"], "test_rows": lifting["test"]["rows"],
        "out_dir": str(out),
    }  # fmt: skip


def holdout_runs(args: argparse.Namespace) -> dict[str, Any]:
    """One run per subject of ``--holdout`` (trained on the other ``--subjects``), each in its own
    scratch folder under ``--out``; the figures of each and their means."""
    subjects, held = args.subjects.split(","), args.holdout.split(",")
    unknown = sorted(set(held) - set(subjects))
    if unknown:
        raise SystemExit(f"--holdout {unknown} not in --subjects {subjects}")
    if len(subjects) < 2:
        raise SystemExit("--subjects: need at least two subjects to hold one out")
    base = Path(args.out or tempfile.mkdtemp(prefix="h36m_holdout_")).resolve()
    runs = {}
    for subject in held:
        one = argparse.Namespace(**vars(args))
        one.train = ",".join(s for s in subjects if s != subject)
        one.test, one.out = subject, str(base / f"holdout_{subject}")
        runs[subject] = run(one)
        _print_run(runs[subject])
    keys = ("mpjpe_p1_mm", "mpjpe_p2_mm", "train_seconds", "train_samples_per_second")
    mean = {k: sum(r[k] for r in runs.values()) / len(runs) for k in keys}
    return {"holdout": held, "subjects": subjects, "input": args.input, "mean": mean, "runs": runs}


def _print_run(res: dict[str, Any]) -> None:
    print(f"input {res['input']}: train {res['train_subjects']} -> test {res['test_subjects']}")
    for action, err in sorted(res["per_action_p1_mm"].items()):
        print(f"  {action:<14s} P1 {err:6.1f} mm   P2 {res['per_action_p2_mm'][action]:6.1f} mm")
    print(
        f"MPJPE Protocol 1: {res['mpjpe_p1_mm']:.1f} mm   Protocol 2: {res['mpjpe_p2_mm']:.1f} mm"
    )
    print(f"training: {res['train_seconds']:.0f} s, {res['train_samples_per_second']:.0f} samples/s, "
          f"step {res['train_step_gflops']:.1f} GFLOP/s = {100 * res['train_step_fraction_of_matmul']:.0f}% "
          f"of the {res['matmul_dtype']} matmul {res['matmul_gflops']:.1f} GFLOP/s "
          f"({res['threads']} threads)")  # fmt: skip
    shares = ", ".join(f"{100 * res['train_step_gflops'] / rate:.0f}% of {dtype}"
                       for dtype, rate in res["matmul_gflops_by_dtype"].items())  # fmt: skip
    print(f"the step's share of this machine's matmul rates, measured in this run: {shares}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--h36m-root", required=True, help="tree in the 3d-pose-baseline layout")
    ap.add_argument("--train", default="S1,S5,S6,S7,S8", help="comma-separated subjects")
    ap.add_argument("--test", default="S9,S11", help="comma-separated subjects")
    ap.add_argument(
        "--holdout", default=None, help="comma-separated subjects held out one at a time "
        "(trained on the rest of --subjects); overrides --train/--test",
    )  # fmt: skip
    ap.add_argument("--subjects", default="S1,S5,S6,S7,S8", help="the pool --holdout draws on")
    ap.add_argument("--input", choices=("gt", "stacked_hourglass"), default="gt")
    ap.add_argument("--epochs", type=int, default=None, help="overrides train_lifter.epochs")
    ap.add_argument("--params", default=str(REPO / "params" / "h36m.yaml"))
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--preset", default=None, help="YAML file with a train_lifter mapping")
    ap.add_argument("--set", action="append", default=[], metavar="train_lifter.KEY=VALUE")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="scratch folder (a rerun resumes); default temp")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--save", default=None, help="copy the trained lifter's checkpoint here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", force=True)
    if args.holdout:
        if args.save:
            raise SystemExit("--save takes one run: drop --holdout or --save")
        res = holdout_runs(args)
        figures = ", ".join(f"{s} {r['mpjpe_p1_mm']:.1f}" for s, r in res["runs"].items())
        print(f"held out in turn ({args.input}): P1 {figures} mm; "
              f"mean P1 {res['mean']['mpjpe_p1_mm']:.1f} mm, P2 {res['mean']['mpjpe_p2_mm']:.1f} mm")  # fmt: skip
    else:
        res = run(args)
        _print_run(res)
    if args.json:
        write_json_atomic(args.json, res)
    if args.save:
        with atomic_path(args.save) as tmp:
            shutil.copyfile(Path(res["out_dir"]) / "train_lifter" / "checkpoint.pt", tmp)
        print(f"lifter checkpoint: {args.save}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
