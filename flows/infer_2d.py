"""The `infer_2d` stage: ``python -m flows.infer_2d [--params P] [--set k=v]``."""

from __future__ import annotations

from flows._stage import StageSpec, preflight_when_main

SPEC = StageSpec(
    name="infer_2d",
    summary="detect, crop-and-resize, CPN and inverse crop over the challenge images, in "
    "resumable shards on threads or Dask workers, into keypoint caches.",
    reads="paths.extract/challenge.parquet and its images; paths.train_detector/checkpoint.pt, "
    "paths.train_cpn/checkpoint.pt",
    writes="paths.infer_2d: cr.parquet, full.parquet, gt_box.parquet (keypoint caches, one per "
    "variant; gt_box: CR around the label boxes), metrics.json, report.json (bad images, images "
    "without a person)",
    sections=("device", "paths.extract", "paths.train_detector", "paths.train_cpn",
              "paths.infer_2d", "infer_2d", "cr"),
)  # fmt: skip
preflight_when_main(SPEC, __name__)

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows._stage import load_stage_params, run_stage
from pose3d.config import Infer2DConfig
from tasks._prefect import stage_task
from tasks.engine import CHECKPOINT, select_device
from tasks.infer_2d import ShardSpec, finish_infer_2d, plan_infer_2d, run_shard

plan_task = stage_task(plan_infer_2d)
shard_task = stage_task(run_shard, retries=1)
finish_task = stage_task(finish_infer_2d)


def task_runner(cfg: Infer2DConfig, device: str) -> Any:
    """``infer_2d.runner``: shards on threads of this process (on the CPU one per core, each
    shard on one torch thread: `tasks.infer_2d.CPU_THREADS_PER_SHARD`; on a GPU one at a time),
    or over Dask workers (a LocalCluster of ``dask_workers`` processes, or the scheduler at
    ``dask_address``)."""
    if cfg.runner == "threads":
        return ThreadPoolTaskRunner(max_workers=(os.cpu_count() or 1) if device == "cpu" else 1)
    from prefect_dask import DaskTaskRunner

    if cfg.dask_address:
        return DaskTaskRunner(address=cfg.dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": cfg.dask_workers, "threads_per_worker": 1,
                        "processes": True, "dashboard_address": None},
    )  # fmt: skip


@flow(name="infer_2d_shards")
def shards_flow(specs: list[ShardSpec]) -> list[dict[str, Any]]:
    """Every shard as its own task run, on this flow's task runner."""
    futures = shard_task.map(specs)
    return [f.result() for f in futures]


@flow(name="infer_2d")
def infer_2d_flow(
    params_path: str = "params.yaml", overrides: list[str] | None = None
) -> dict[str, Any]:
    params = load_stage_params(params_path, overrides)
    cfg, paths = params.infer_2d, params.paths
    checkpoints = (str(Path(paths.train_detector) / CHECKPOINT),
                   str(Path(paths.train_cpn) / CHECKPOINT))  # fmt: skip
    device = str(select_device(params.device))
    t0 = time.perf_counter()
    plan = plan_task(cfg, params.cr, paths.extract, checkpoints, paths.infer_2d, device)
    shards_flow.with_options(task_runner=task_runner(cfg, device))(plan.specs)
    metrics: dict[str, Any] = finish_task(plan, cfg, paths.infer_2d, time.perf_counter() - t0)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    return run_stage(SPEC, infer_2d_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
