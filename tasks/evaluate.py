"""The `evaluate` stage: score the trained lifter on the `lifting` stage's test rows.

MPJPE Protocols 1 and 2 (per action, then over actions), per joint, the challenge metric, tables
and figures. What training decided (flip test, normalisation, input joints) comes from the
checkpoint. Where `train_lifter` also trained the reference (the same recipe on ground-truth
2D), its numbers stand beside the route's (``reference_*``), with their ratio and the 2D gap
between the two caches on the test rows: the cost of detected 2D, end to end. Where it also
trained the lifter of the CPN on the label boxes (``gt_box_*``), the error budget splits that
cost into the CPN's and the detector's (``budget_*``, `error_budget`). ``fig3.png`` is
the paper's Fig. 3 for test rows with images; ``report.html`` one self-contained page of it all
with the best and worst rows in 3D (`pose3d.report`). The outputs are written aside and moved in
together, so a failed run leaves the previous ones."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pose3d.images import BadImage
from pose3d.io import staged_files, write_metrics, write_text_atomic
from pose3d.lifting.dataset import LiftingDataset, action_base
from pose3d.metrics import (
    challenge_mpjpe,
    joint_errors,
    keypoint_distances,
    left_right_ratio,
    mpjpe,
    mpjpe_per_action,
    mpjpe_per_joint,
    pck,
    person_height,
    swap_share,
)
from pose3d.plots import examples_figure, fig3_figure, per_joint_figure, save_figure
from pose3d.report import BUDGET_PARTS, BUDGET_SOURCES, Example, report_html
from pose3d.skeleton import H36M17_JOINTS
from tasks._prefect import logger, stage_task
from tasks.lifter.inference import load_lifter, predict_dataset
from tasks.route.frames import read_rgb

UNKNOWN_ACTION = "(unknown)"
REPORT = "report.html"  # the page of the `evaluate` stage (pose3d.report)
HEADLINE = (
    "mpjpe_p1_mm",
    "challenge_mpjpe_mm",
    "reference_mpjpe_p1_mm",
    "gt_box_mpjpe_p1_mm",
    "kp2d_error_px",
)  # metrics.json (`dvc metrics show`, at most five); everything: scores.json


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, Any]
    per_action: dict[str, tuple[float, float, int]]  # action -> (P1 mm, P2 mm, rows)
    per_joint_mm: np.ndarray  # (17,) P1


def score(pred_mm: np.ndarray, data: LiftingDataset) -> Evaluation:
    """All the metrics of root-relative predictions against `data`. Shapes: pred_mm (N, 17, 3)."""
    gt = data.pose3d_cam_mm
    actions = np.array([action_base(str(a)) or UNKNOWN_ACTION for a in data.action])
    p1, p1_table = mpjpe_per_action(pred_mm, gt, actions, "root")
    p2, p2_table = mpjpe_per_action(pred_mm, gt, actions, "procrustes")
    per_action = {
        a: (p1_table[a], p2_table[a], int((actions == a).sum())) for a in sorted(p1_table)
    }
    metrics = {
        "mpjpe_p1_mm": p1,
        "mpjpe_p2_mm": p2,
        "mpjpe_p1_all_frames_mm": mpjpe(pred_mm, gt, "root"),
        "challenge_mpjpe_mm": challenge_mpjpe(pred_mm, gt),
        "rows": len(data),
        "actions": len(per_action),
    }
    return Evaluation(metrics, per_action, mpjpe_per_joint(pred_mm, gt, "root"))


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_evaluation(ev: Evaluation, out_dir: Path) -> None:
    """metrics.json, per_action.csv, per_joint.csv and per_joint.png in `out_dir`."""
    write_metrics(out_dir, ev.metrics, HEADLINE)
    rows = [[a, round(p1, 2), round(p2, 2), n] for a, (p1, p2, n) in ev.per_action.items()]
    write_text_atomic(
        out_dir / "per_action.csv", _csv(["action", "mpjpe_p1_mm", "mpjpe_p2_mm", "rows"], rows)
    )
    joints = [[j, round(float(e), 2)] for j, e in zip(H36M17_JOINTS, ev.per_joint_mm, strict=True)]
    write_text_atomic(out_dir / "per_joint.csv", _csv(["joint", "mpjpe_p1_mm"], joints))
    title = f"P1 {ev.metrics['mpjpe_p1_mm']:.1f} mm over {ev.metrics['rows']} rows"
    save_figure(per_joint_figure(ev.per_joint_mm, title), out_dir / "per_joint.png")


def _row_keys(data: LiftingDataset) -> list[tuple[str, str, str, int]]:
    frame = data.frame if data.frame is not None else np.arange(len(data))
    return [
        (str(s), str(a), str(c), int(f))
        for s, a, c, f in zip(data.subject, data.action, data.camera, frame, strict=True)
    ]


def gap_2d(route: LiftingDataset, reference: LiftingDataset) -> dict[str, float]:
    """How far the route's 2D lies from the reference's on the rows both have (same subject,
    action, camera, frame): mean and median joint distance in pixels, the share of joints
    within 5 and 10% of the reference's person height (its 2D extent in y), and whether the
    route tells left from right (the left-right distance ratio and the share of swapped poses)."""
    where = {key: i for i, key in enumerate(_row_keys(reference))}
    pairs = [(i, where[k]) for i, k in enumerate(_row_keys(route)) if k in where]
    if not pairs:
        return {"kp2d_rows_compared": 0}
    ri, fi = (np.array(p) for p in zip(*pairs, strict=True))
    dist = keypoint_distances(route.kp2d_px[ri], reference.kp2d_px[fi])  # (N, 17)
    height = person_height(reference.kp2d_px[fi])
    ok = np.isfinite(dist)
    return {
        "kp2d_rows_compared": len(pairs),
        "kp2d_error_px": round(float(dist[ok].mean()), 3),
        "kp2d_median_error_px": round(float(np.median(dist[ok])), 3),
        "kp2d_pck5_height": round(pck(np.where(ok, dist, np.nan), height, 0.05), 4),
        "kp2d_pck10_height": round(pck(np.where(ok, dist, np.nan), height, 0.10), 4),
        "kp2d_left_right_ratio": round(
            left_right_ratio(route.kp2d_px[ri], reference.kp2d_px[fi]), 4
        ),
        "kp2d_swap_share": round(swap_share(route.kp2d_px[ri], reference.kp2d_px[fi]), 4),
    }


def _read_images(data: LiftingDataset, rows: np.ndarray, what: str) -> list[np.ndarray | None]:
    """The images of `rows` (RGB), None where a row has none or it cannot be read (warned)."""
    images: list[np.ndarray | None] = []
    for i in rows:
        path = "" if data.image_path is None else str(data.image_path[i])
        try:
            images.append(read_rgb(path) if path else None)
        except (BadImage, FileNotFoundError) as err:
            logger().warning("%s (%s)", err, what)
            images.append(None)
    return images


def _boxes(data: LiftingDataset, rows: np.ndarray) -> np.ndarray:
    if data.box_xyxy_px is None:
        return np.full((len(rows), 4), np.nan)
    return data.box_xyxy_px[rows]


def _title(data: LiftingDataset, i: int) -> str:
    return f"{data.subject[i]} {data.action[i]} {data.camera[i]} #{i}"


def fig3(data: LiftingDataset, pred_mm: np.ndarray, count: int) -> Any:
    """The paper's Fig. 3 for `count` test rows with images, evenly spread; None when no row
    has a readable image (unreadable ones are left out)."""
    if data.image_path is None or count <= 0:
        return None
    with_image = np.flatnonzero([bool(p) for p in data.image_path])
    if len(with_image) == 0:
        return None
    pick = with_image[np.linspace(0, len(with_image) - 1, min(count, len(with_image))).astype(int)]
    read = _read_images(data, pick, "fig3: example left out")
    rows = np.array([i for i, image in zip(pick, read, strict=True) if image is not None])
    if len(rows) == 0:
        return None
    images = [image for image in read if image is not None]
    return fig3_figure(images, _boxes(data, rows), data.kp2d_px[rows], pred_mm[rows],
                       data.pose3d_cam_mm[rows], [_title(data, i) for i in rows])  # fmt: skip


def extremes(
    data: LiftingDataset, pred_mm: np.ndarray, count: int
) -> list[tuple[str, list[Example]]]:
    """The report's frames: the `count` best and the `count` worst test rows by MPJPE P1, among
    the rows with an image where there are any. Shapes: pred_mm (N, 17, 3)."""
    error_mm = joint_errors(pred_mm, data.pose3d_cam_mm, "root").mean(axis=1)
    rows = np.arange(len(data))
    if data.image_path is not None and any(bool(p) for p in data.image_path):
        rows = np.flatnonzero([bool(p) for p in data.image_path])
    order = rows[np.argsort(error_mm[rows], kind="stable")]
    best = order[: min(count, len(order))]
    worst = order[::-1][: max(0, min(count, len(order) - len(best)))]
    sections = []
    for heading, pick in (("Best frames", best), ("Worst frames", worst)):
        images = _read_images(data, pick, "report: shown without its image")
        boxes = _boxes(data, pick)
        examples = [
            Example(f"{_title(data, i)}: {error_mm[i]:.0f} mm", image, box, data.kp2d_px[i],
                    pred_mm[i], data.pose3d_cam_mm[i])
            for i, image, box in zip(pick, images, boxes, strict=True)
        ]  # fmt: skip
        if examples:
            sections.append((heading, examples))
    return sections


REFERENCE_KEYS = ("mpjpe_p1_mm", "mpjpe_p2_mm", "challenge_mpjpe_mm")
# the lifters `train_lifter` trains beside the route (tasks.lifter.rows.BESIDE_ROUTE) as 2D
# sources of the error budget (pose3d.report.BUDGET_SOURCES)
BUDGET_SOURCE = {"reference": "gt2d", "gt_box": "gt_box"}
# gap_2d's keys -> the budget's
_BUDGET_2D = {"kp2d_error_px": "kp2d_error_px", "kp2d_left_right_ratio": "left_right_ratio",
              "kp2d_swap_share": "swap_share"}  # fmt: skip


def error_budget(
    scored: Mapping[str, tuple[float, LiftingDataset]], truth: LiftingDataset | None
) -> dict[str, float]:
    """The error budget over the 2D sources in `scored` (of `BUDGET_SOURCES`: ground truth
    ``gt2d``, the CPN on the label boxes ``gt_box``, the ``route``; each the MPJPE P1 of the
    lifter trained and scored on it, and its test rows): per source its P1, its rows and, with
    `truth` (the reference rows, ground-truth 2D), its 2D error, left-right ratio and swap share
    against them (`gap_2d`); with all three, the route's P1 split into the part each step adds
    to the source before it (`BUDGET_PARTS`): the lifter's own (gt2d), the CPN's (gt_box - gt2d),
    the detector's (route - gt_box), in mm and as shares of the route's P1 (a negative part: that
    step did better on its rows). {} with fewer than two sources."""
    if len(scored) < 2:
        return {}
    out: dict[str, float] = {}
    for source in (s for s in BUDGET_SOURCES if s in scored):
        p1, rows = scored[source]
        out[f"budget_{source}_mpjpe_p1_mm"] = p1
        out[f"budget_{source}_rows"] = len(rows)
        gap = {} if truth is None else gap_2d(rows, truth)
        out.update(
            {f"budget_{source}_{name}": gap[k] for k, name in _BUDGET_2D.items() if k in gap}
        )
    if all(s in scored for s in BUDGET_SOURCES):
        below = 0.0
        for part, source in zip(BUDGET_PARTS, BUDGET_SOURCES, strict=True):
            p1 = scored[source][0]
            out[f"budget_{part}_mm"] = p1 - below
            out[f"budget_{part}_share"] = round((p1 - below) / scored["route"][0], 4)
            below = p1
    return out


def evaluate_lifter(
    checkpoint: str | Path,
    data: LiftingDataset,
    out_dir: str | Path,
    examples: int = 4,
    device: torch.device | None = None,
    beside: Mapping[str, tuple[str | Path, LiftingDataset]] | None = None,
    made_from: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Predict `data` with the checkpoint's lifter (its own flip test), score it and write
    tables and figures to `out_dir`; with `beside` (variant of `BUDGET_SOURCE` -> its checkpoint
    and test rows: ``reference``, ``gt_box``), score those too and report them beside the route
    (``<variant>_*``), the 2D gap to the reference and the error budget. `made_from` heads the
    report (`pose3d.report`)."""
    lifter = load_lifter(checkpoint, data.num_joints, device)
    pred = predict_dataset(lifter, data)
    ev = score(pred, data)
    metrics = dict(ev.metrics)
    scored = {"route": (ev.metrics["mpjpe_p1_mm"], data)}
    for variant, (other_checkpoint, rows) in (beside or {}).items():
        other = predict_dataset(load_lifter(other_checkpoint, rows.num_joints, device), rows)
        found = score(other, rows).metrics
        metrics.update({f"{variant}_{key}": found[key] for key in REFERENCE_KEYS})
        scored[BUDGET_SOURCE[variant]] = (found["mpjpe_p1_mm"], rows)
    reference = (beside or {}).get("reference")
    if reference is not None:
        metrics["route_over_reference_p1"] = round(
            ev.metrics["mpjpe_p1_mm"] / metrics["reference_mpjpe_p1_mm"], 4
        )
        metrics.update(gap_2d(data, reference[1]))
    metrics.update(error_budget(scored, None if reference is None else reference[1]))
    with staged_files(out_dir) as tmp:
        write_evaluation(Evaluation(metrics, ev.per_action, ev.per_joint_mm), tmp)
        if examples:
            pick = np.linspace(0, len(data) - 1, num=min(examples, len(data))).astype(int)
            titles = [f"{data.subject[i]} {data.action[i]} cam {data.camera[i]}" for i in pick]
            fig = examples_figure(data.kp2d_px[pick], data.pose3d_cam_mm[pick], pred[pick], titles)
            save_figure(fig, tmp / "examples.png")
            figure = fig3(data, pred, examples)
            if figure is not None:
                save_figure(figure, tmp / "fig3.png")
        page = report_html(
            metrics, ev.per_action, ev.per_joint_mm, extremes(data, pred, examples), made_from
        )
        write_text_atomic(tmp / REPORT, page)
    logger().info("evaluate: %s", metrics)
    return metrics


evaluate_lifter_task = stage_task(evaluate_lifter)
