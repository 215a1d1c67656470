"""The trained 2D half on real images: 4 Human3.6M frames and 4 COCO photos (../shared/data).

    .venv/bin/python bench/real_images_2d.py [--shared ../shared/data] [--out /tmp/real_2d]

Runs `infer_2d`'s tasks (no Prefect) with the checkpoints of `make run` (``data/train_detector``,
``data/train_cpn``) on the images where they lie (they are never copied), writes the caches to
`--out` (outside the project: they hold licensed data) and prints, per image, the best person
box (or none above ``infer_2d.min_person_score``) and its IoU with the labelled person (the best-matching one in COCO), and for the
Human3.6M frames the mean 2D error against their labels in pixels and in % of the person's
height. The networks saw the synthetic world only: these figures say how far that is from real
photographs, nothing else.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torchvision.ops import box_iou

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pose3d.config import load_params  # noqa: E402
from pose3d.keypoints import keypoints_to_arrays, read_keypoints  # noqa: E402
from tasks.infer_2d import finish_infer_2d, plan_infer_2d, run_shard  # noqa: E402
from tasks.route.frames import write_images_table  # noqa: E402


def _iou(box: np.ndarray, truth: np.ndarray) -> float:
    if not np.isfinite(box).all() or len(truth) == 0:
        return float("nan")
    ious = box_iou(
        torch.tensor(box[None], dtype=torch.float64), torch.tensor(truth, dtype=torch.float64)
    )
    return float(ious.max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default="/tmp/real_2d")
    args = parser.parse_args(argv)
    shared, out = Path(args.shared), Path(args.out)
    photos = sorted((shared / "coco_samples").glob("*.jpg"))
    frames = sorted((shared / "challenge_sample" / "Val" / "IMG").glob("*.jpg"))
    params = load_params(ROOT / "params.yaml")
    write_images_table([*photos, *frames], out / "extract", split="Val")
    checkpoints = (str(ROOT / params.paths.train_detector / "checkpoint.pt"),
                   str(ROOT / params.paths.train_cpn / "checkpoint.pt"))  # fmt: skip
    cfg = params.infer_2d
    plan = plan_infer_2d(cfg, params.cr, str(out / "extract"), checkpoints, str(out / "infer_2d"),
                         "cpu")  # fmt: skip
    for spec in plan.specs:
        run_shard(spec)
    metrics = finish_infer_2d(plan, cfg, str(out / "infer_2d"), 0.0)
    cr = keypoints_to_arrays(read_keypoints(out / "infer_2d" / "cr.parquet"))
    coco = json.loads((shared / "coco_samples" / "test_coco.json").read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    truth: dict[str, list[list[float]]] = {}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        truth.setdefault(names[a["image_id"]], []).append([x, y, x + w, y + h])
    index = {e["file"] + ".jpg": e for e in json.loads(
        (shared / "challenge_sample" / "index.json").read_text())}  # fmt: skip
    scores = json.loads((out / "infer_2d" / "scores.json").read_text())
    print(
        f"infer_2d on {metrics['images']} real images: {scores['cr_no_person']} without a "
        f"person box over {cfg.min_person_score}, {scores['bad_images']} unreadable"
    )
    print("\n| image | size | person box | IoU with the person | 2D error px | % of height |")
    print("|---|---|---:|---:|---:|---:|")
    sizes = {Path(p).name: (w, h) for p, w, h in zip(
        [*photos, *frames], cr.image_wh[:, 0], cr.image_wh[:, 1], strict=False)}  # fmt: skip
    for i, path in enumerate([*photos, *frames]):
        name = path.name
        box = cr.box_xyxy_px[i].astype(np.float64)
        err = pct = iou = float("nan")
        if name in index:
            gt = np.asarray(index[name]["gt_2d_px"], dtype=np.float64)
            side = 200.0 * index[name]["bbox_scale_x200px"]
            cx, cy = index[name]["bbox_center"]
            iou = _iou(
                box, np.array([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]])
            )
            dist = np.linalg.norm(cr.kp2d_px[i] - gt, axis=-1)
            err = float(dist.mean())
            pct = 100 * err / float(np.ptp(gt[:, 1]))
        else:
            iou = _iou(box, np.asarray(truth.get(name, []), dtype=np.float64))
        w, h = sizes[name]
        found = "found" if np.isfinite(box).all() else "none (whole image)"
        print(f"| {name} | {w:.0f}x{h:.0f} | {found} | {iou:.2f} | {err:.1f} | {pct:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
