"""The `ablation` stage: the paper's Table 1 (max-norm x batch norm x residual) and Fig. 2 (MPJPE
against the number of residual blocks and their width), each configuration trained with
train_lifter's recipe for ``ablation.epochs`` epochs on the `lifting` rows and scored alike.
Where `lifting` wrote the "w.o. CR" rows (2D from the whole image, no crop-and-resize), Table 1
gets its second column: the 8 combinations again on those rows.

Writes ``table1.md``, ``capacity.csv`` (Fig. 2's numbers, for ``dvc plots``), ``capacity.png``,
``results.json`` (every run's numbers), a small ``metrics.json`` for ``dvc metrics show`` and one
resumable run folder per configuration under ``runs/`` (``runs_without_cr/``)."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pose3d.config import AblationConfig, LifterConfig, TrainLifterConfig
from pose3d.io import staged_files, write_json_atomic, write_text_atomic
from pose3d.lifting.dataset import LiftingDataset
from pose3d.plots import capacity_figure, save_figure
from tasks._prefect import logger, stage_task
from tasks.evaluate import score
from tasks.lifter.inference import load_lifter, predict_dataset
from tasks.train_lifter import train_lifter


@dataclass(frozen=True)
class Variant:
    name: str
    model: LifterConfig


def table1_variants(base: LifterConfig) -> list[Variant]:
    """All 8 combinations of max-norm (in `base`'s mode), batch norm and residual connections,
    then all three with max-norm in the other mode: the reference clips each weight matrix inside
    the forward pass ("forward"); "post_step" rescales the stored weights after each step."""
    out = []
    for max_norm, batch_norm, residual in itertools.product((False, True), repeat=3):
        name = f"maxnorm={int(max_norm)}_bn={int(batch_norm)}_res={int(residual)}"
        model = dataclasses.replace(
            base, max_norm=max_norm, batch_norm=batch_norm, residual=residual
        )
        out.append(Variant(name, model))
    other = "post_step" if base.max_norm_mode == "forward" else "forward"
    model = dataclasses.replace(
        base, max_norm=True, batch_norm=True, residual=True, max_norm_mode=other
    )
    out.append(Variant(f"maxnorm={other}_bn=1_res=1", model))
    return out


def capacity_variants(
    base: LifterConfig, blocks: tuple[int, ...], widths: tuple[int, ...]
) -> list[Variant]:
    return [
        Variant(f"blocks={b}_width={w}", dataclasses.replace(base, num_blocks=b, width=w))
        for b, w in itertools.product(blocks, widths)
    ]


def run_variant(
    variant: Variant,
    data: tuple[LiftingDataset, LiftingDataset],
    train_cfg: TrainLifterConfig,
    out_dir: Path,
    seed: int,
    device: torch.device | None = None,
) -> dict[str, float]:
    """Train one configuration (resuming its checkpoint) and score it on the test rows."""
    train, test = data
    cfg = dataclasses.replace(train_cfg, model=variant.model)
    result = train_lifter(train, None, cfg, out_dir / variant.name, seed, device)
    lifter = load_lifter(result.checkpoint, test.num_joints, device)
    pred = predict_dataset(lifter, test)
    metrics = score(pred, test).metrics
    logger().info("ablation %s: P1 %.1f mm", variant.name, metrics["mpjpe_p1_mm"])
    return {"mpjpe_p1_mm": metrics["mpjpe_p1_mm"], "mpjpe_p2_mm": metrics["mpjpe_p2_mm"],
            "final_train_loss": result.history[-1]["train_loss"]}  # fmt: skip


def _mark(flag: bool, mode: str = "") -> str:
    return ("yes" + (f" ({mode})" if mode else "")) if flag else "-"


def table1_markdown(
    rows: list[tuple[Variant, dict[str, float]]],
    without_cr: dict[str, dict[str, float]] | None = None,
) -> str:
    """Table 1; with `without_cr` (variant name -> metrics) the "w.o. CR" columns beside the
    route's ("with CR"), "n/a" where a variant was not run without CR."""
    head = "| max-norm | batch norm | residual | MPJPE P1 (mm) | MPJPE P2 (mm) |"
    rule = "|:---:|:---:|:---:|---:|---:|"
    if without_cr is not None:
        head = ("| max-norm | batch norm | residual | with CR P1 (mm) | with CR P2 (mm) "
                "| w.o. CR P1 (mm) | w.o. CR P2 (mm) |")  # fmt: skip
        rule += "---:|---:|"
    lines = [head, rule]
    for v, m in rows:
        line = (
            f"| {_mark(v.model.max_norm, v.model.max_norm_mode)} | {_mark(v.model.batch_norm)}"
            f" | {_mark(v.model.residual)}"
            f" | {m['mpjpe_p1_mm']:.1f} | {m['mpjpe_p2_mm']:.1f} |"
        )
        if without_cr is not None:
            other = without_cr.get(v.name)
            line += (
                f" {other['mpjpe_p1_mm']:.1f} | {other['mpjpe_p2_mm']:.1f} |"
                if other else " n/a | n/a |"
            )  # fmt: skip
        lines.append(line)
    return "\n".join(lines) + "\n"


def run_ablation(
    train: LiftingDataset,
    test: LiftingDataset,
    train_cfg: TrainLifterConfig,
    cfg: AblationConfig,
    out_dir: str | Path,
    seed: int,
    device: torch.device | None = None,
    without_cr: tuple[LiftingDataset, LiftingDataset] | None = None,
) -> dict[str, Any]:
    """Train and score every variant; write the tables, the figure and the metrics. With
    `without_cr` (its train and test rows), Table 1's 8 combinations again on those rows."""
    out_dir = Path(out_dir)
    base_cfg = dataclasses.replace(train_cfg, epochs=cfg.epochs)
    runs = out_dir / "runs"
    variants = table1_variants(train_cfg.model)
    table = [(v, run_variant(v, (train, test), base_cfg, runs, seed, device)) for v in variants]
    results: dict[str, Any] = {"table1": {v.name: m for v, m in table}, "capacity": {}}
    if without_cr is not None:
        results["table1_without_cr"] = {
            v.name: run_variant(v, without_cr, base_cfg, out_dir / "runs_without_cr", seed, device)
            for v in variants[:8]  # the paper's 8 rows
        }
    capacity: dict[tuple[int, int], float] = {}
    for v in capacity_variants(train_cfg.model, cfg.blocks, cfg.widths):
        m = run_variant(v, (train, test), base_cfg, runs, seed, device)
        capacity[(v.model.num_blocks, v.model.width)] = m["mpjpe_p1_mm"]
        results["capacity"][v.name] = m
    lines = ["blocks,width,mpjpe_p1_mm"] + [
        f"{b},{w},{e:.2f}" for (b, w), e in sorted(capacity.items())
    ]
    with staged_files(out_dir) as tmp:
        write_text_atomic(
            tmp / "table1.md", table1_markdown(table, results.get("table1_without_cr"))
        )
        write_text_atomic(tmp / "capacity.csv", "\n".join(lines) + "\n")
        save_figure(capacity_figure(capacity), tmp / "capacity.png")
        write_json_atomic(tmp / "results.json", results)
        metrics = ablation_metrics(table, capacity)
        if without_cr is not None:
            full = results["table1_without_cr"][variants[7].name]  # all three
            metrics["table1_all_three_without_cr_p1_mm"] = round(full["mpjpe_p1_mm"], 2)
        write_json_atomic(tmp / "metrics.json", metrics)
    return results


def ablation_metrics(
    table: list[tuple[Variant, dict[str, float]]], capacity: dict[tuple[int, int], float]
) -> dict[str, float]:
    """The few numbers `dvc metrics show` prints for the ablation (the rest: results.json)."""
    p1 = {
        (v.model.max_norm, v.model.batch_norm, v.model.residual, v.model.max_norm_mode): m[
            "mpjpe_p1_mm"
        ]
        for v, m in table
    }
    full = [e for (mn, bn, res, _), e in p1.items() if mn and bn and res]
    return {
        "table1_all_three_p1_mm": round(min(full), 2),
        "table1_none_p1_mm": round(p1[(False, False, False, table[0][0].model.max_norm_mode)], 2),
        "fig2_best_p1_mm": round(min(capacity.values()), 2) if capacity else float("nan"),
    }


run_ablation_task = stage_task(run_ablation)
