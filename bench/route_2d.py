"""The 2D half of a run against the synthetic world's labels: what the detector and the CPN get
right on the challenge images, per split, for each keypoint cache of ``infer_2d``.

    .venv/bin/python bench/route_2d.py [--data data] [--json out.json]

Reads ``<data>/extract/challenge.parquet`` (label boxes and 2D, from the world's sidecars; the
real challenge has none) and ``<data>/infer_2d/<variant>.parquet``. Prints, per variant and
split: rows, the share of detected boxes with IoU >= 0.5 against the label box (``cr`` only),
the mean 2D error (px) and as a share of the person's height, the left-right distance ratio of
the limbs and the share of left/right-swapped poses (`pose3d.metrics`), and the mean error per
joint.
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
    box_iou,
    keypoint_distances,
    left_right_ratio,
    person_height,
    swap_share,
)
from pose3d.skeleton import H36M17_JOINTS  # noqa: E402

VARIANTS = ("cr", "gt_box", "full")


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
        iou = np.array([box_iou(b[None], t[None])[0, 0] if np.isfinite(b).all() else 0.0
                        for b, t in zip(boxes, label_boxes, strict=True)])  # fmt: skip
        out["box_iou50_share"] = round(float(np.mean(iou >= 0.5)), 4)
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
            results[f"{variant}/{split}"] = score(
                arrays.kp2d_px[pick][known].astype(np.float64), label[known], boxes,
                labels["box_xyxy_px"][rows[pick]][known].astype(np.float64),
            )  # fmt: skip
    for key, figures in results.items():
        flat = {k: v for k, v in figures.items() if k != "per_joint_px"}
        print(f"{key:14s} {flat}")
        print(f"{'':14s} per joint (px): {figures['per_joint_px']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
