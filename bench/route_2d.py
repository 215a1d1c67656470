"""The 2D half of a run against the synthetic world's labels: what the detector and the CPN get
right on the challenge images, per split, for each keypoint cache of ``infer_2d``.

    .venv/bin/python bench/route_2d.py [--data data] [--json out.json]

Reads ``<data>/extract/challenge.parquet`` (label boxes and 2D, from the world's sidecars; the
real challenge has none) and ``<data>/infer_2d/<variant>.parquet``. Prints, per variant and
split: rows, the share of detected boxes with IoU >= 0.5 against the label box (``cr`` only),
the mean 2D error (px) and as a share of the person's height, the left-right distance ratio of
the limbs and the share of left/right-swapped poses (`pose3d.metrics`), the mean error per
joint, and the mean error by the camera's distance to the pelvis and for people with a joint
outside the image (the real challenge's Human3.6M frames: 3.3-6.9 m, a joint outside in 0.01%).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pose3d.frames import frames_arrays, read_frames  # noqa: E402
from pose3d.keypoints import keypoints_to_arrays, read_keypoints  # noqa: E402
from pose3d.metrics import (  # noqa: E402
    keypoint_distances,
    left_right_ratio,
    person_height,
    swap_share,
)
from pose3d.skeleton import H36M17_JOINTS  # noqa: E402
from tasks.infer_2d import kept_box_hits  # noqa: E402

VARIANTS = ("cr", "gt_box", "full")
DISTANCE_BINS_MM = (0.0, 4000.0, 5500.0, 7000.0, np.inf)


def by_reach(dist: np.ndarray, label: np.ndarray, image_wh: np.ndarray,
             distance_mm: np.ndarray) -> dict[str, Any]:  # fmt: skip
    """Mean 2D error (px) and rows by the camera's distance to the pelvis, and for the people
    with a joint outside the image. Shapes: dist (N, 17), label (N, 17, 2), image_wh (N, 2),
    distance_mm (N,)."""
    out: dict[str, Any] = {}
    per_row = np.nanmean(dist, axis=1)
    bins = [
        (f"{lo / 1000:g}-{hi / 1000:g} m" if np.isfinite(hi) else f">={lo / 1000:g} m",
         (distance_mm >= lo) & (distance_mm < hi))
        for lo, hi in zip(DISTANCE_BINS_MM[:-1], DISTANCE_BINS_MM[1:], strict=True)
    ]  # fmt: skip
    outside = ((label < 0) | (label > image_wh[:, None, :])).any(axis=(1, 2))
    for name, pick in [*bins, ("a joint outside", outside)]:
        out[name] = (int(pick.sum()), round(float(per_row[pick].mean()), 2) if pick.any() else None)
    return out


def score(kp: np.ndarray, label: np.ndarray, boxes: np.ndarray | None,
          label_boxes: np.ndarray) -> dict[str, Any]:  # fmt: skip
    """The figures of one variant on one split. Shapes: (N, 17, 2) twice, (N, 4) twice."""
    dist = keypoint_distances(kp, label)
    ok = np.isfinite(dist)
    height = person_height(label)
    out: dict[str, Any] = {
        "rows": len(kp),
        "kp2d_error_px": round(float(dist[ok].mean()), 2),
        "kp2d_error_of_height": round(float(np.nanmean(np.where(ok, dist, np.nan) / height[:, None])), 4),
        "left_right_ratio": round(left_right_ratio(kp, label), 3),
        "swap_share": round(swap_share(kp, label), 3),
        "per_joint_px": {
            name: round(float(np.nanmean(np.where(ok[:, j], dist[:, j], np.nan))), 1)
            for j, name in enumerate(H36M17_JOINTS)
        },
    }  # fmt: skip
    if boxes is not None:
        out["box_iou50_share"] = kept_box_hits(boxes, label_boxes).get("cr_box_iou50", np.nan)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    labels = frames_arrays(read_frames(args.data / "extract" / "challenge.parquet"))
    where = {
        (str(s), int(f)): i
        for i, (s, f) in enumerate(zip(labels["split"], labels["frame"], strict=True))
    }
    results: dict[str, dict[str, Any]] = {}
    for variant in VARIANTS:
        path = args.data / "infer_2d" / f"{variant}.parquet"
        if not path.is_file():
            continue
        table = read_keypoints(path)
        arrays = keypoints_to_arrays(table)
        splits = table.column("split").to_numpy(zero_copy_only=False).astype(str)
        rows = np.array([where[(s, int(f))] for s, f in zip(splits, arrays.frame, strict=True)])
        for split in sorted(set(splits)):
            pick = splits == split
            label = labels["kp2d_px"][rows[pick]].astype(np.float64)
            known = np.isfinite(label).all(axis=(1, 2))
            if not known.any():
                continue
            boxes = arrays.box_xyxy_px[pick][known] if variant == "cr" else None
            kp = arrays.kp2d_px[pick][known].astype(np.float64)
            label_boxes = labels["box_xyxy_px"][rows[pick]][known].astype(np.float64)
            results[f"{variant}/{split}"] = score(kp, label[known], boxes, label_boxes)
            results[f"{variant}/{split}"]["px_by_reach"] = by_reach(
                keypoint_distances(kp, label[known]), label[known],
                arrays.image_wh[pick][known].astype(np.float64),
                np.linalg.norm(labels["root_cam_mm"][rows[pick]][known], axis=1),
            )  # fmt: skip
    for key, figures in results.items():
        flat = {k: v for k, v in figures.items() if k not in ("per_joint_px", "px_by_reach")}
        print(f"{key:14s} {flat}")
        print(f"{'':14s} per joint (px): {figures['per_joint_px']}")
        print(f"{'':14s} (rows, px) by reach: {figures['px_by_reach']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
