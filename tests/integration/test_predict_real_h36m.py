"""`pose3d predict --keypoints` on the 4 real labelled Human3.6M frames (../shared/data/h36m_frames,
read in place): their ground-truth 2D lifted, against their 3D labels.

The lifter is trained here in seconds on real Human3.6M mocap of S1, S5, S6, S7 (every 10th
pose, all 4 cameras, ground-truth 2D), or taken from ``$POSE3D_H36M_LIFTER`` (e.g. the checkpoint
`bench/h36m_lifter.py --save` writes; docs/predict.md). Frames of S1, S5 and S7 are subjects it
trained on (other moments of their mocap); S8 is held out."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from lifting_rows import sequence_rows

from flows.cli import main
from pose3d.config import load_params
from pose3d.formats.h36m import list_actions, poses_path, read_cameras, read_positions
from pose3d.images import verify_image
from pose3d.lifting.dataset import concat
from pose3d.metrics import mpjpe
from tasks.train_lifter import train_lifter

TRAIN = ("S1", "S5", "S6", "S7")
STRIDE = 10  # every 10th pose of the 10 Hz files
BOUND_MM = 150.0  # this small lifter: 81 mm; the bench's (docs/predict.md): 50 mm


def _small_lifter(h36m: Path, repo_root: Path, out: Path) -> Path:
    cams = read_cameras(h36m / "cameras.h5")
    parts = []
    for subject in TRAIN:
        for action in list_actions(h36m, subject):
            pose32 = read_positions(poses_path(h36m, subject, action))[::STRIDE]
            parts += [sequence_rows(pose32, cam, None, (subject, action))
                      for (s, _), cam in sorted(cams.items()) if s == subject]  # fmt: skip
    cfg = load_params(repo_root / "params.yaml", [
        "train_lifter.epochs=3", "train_lifter.model.width=256", "train_lifter.model.num_blocks=2",
        "train_lifter.model.floor_input=false", "train_lifter.augment.probability=0",
        "train_lifter.bn_recalibration_batches=20",
    ]).train_lifter  # fmt: skip
    return train_lifter(concat(parts), None, cfg, out, seed=0).checkpoint


@pytest.mark.real_data
def test_lifting_the_labelled_frames_ground_truth_2d(
    shared_data: Path, repo_root: Path, tmp_path: Path, torch_one_thread: None
) -> None:
    frames_dir = shared_data / "h36m_frames"
    labels = np.load(frames_dir / "test_h36m_body3d.npz")
    given = [
        {"source": str(name), "frame": 0, "kp2d_px": part[:, :2].tolist(),
         "image_wh": list(verify_image(frames_dir / str(name)))}
        for name, part in zip(labels["imgname"], labels["part"], strict=True)
    ]  # fmt: skip
    path = tmp_path / "h36m_frames_gt2d.json"
    path.write_text(json.dumps({"format": "h36m17", "frames": given}))
    lifter = os.environ.get("POSE3D_H36M_LIFTER") or _small_lifter(
        shared_data / "h36m", repo_root, tmp_path / "lifter"
    )
    out = tmp_path / "pred.json"
    assert main(["predict", "--keypoints", str(path), "--lifter", str(lifter), "-o", str(out),
                 "--device", "cpu"]) == 0  # fmt: skip
    pred = np.array([f["pose3d_cam_mm"] for f in json.loads(out.read_text())["frames"]], float)
    gt = labels["S"][..., :3] * 1000.0
    gt -= gt[:, :1]
    per_frame = [mpjpe(pred[i : i + 1], gt[i : i + 1], "root") for i in range(len(gt))]
    logging.getLogger("pose3d").warning(
        "h36m_frames, lifted ground-truth 2D (%s): MPJPE P1 %.1f mm (per frame %s), P2 %.1f mm",
        lifter, mpjpe(pred, gt, "root"), [round(e, 1) for e in per_frame],
        mpjpe(pred, gt, "procrustes"),
    )  # fmt: skip
    assert np.isfinite(per_frame).all()
    assert mpjpe(pred, gt, "root") < BOUND_MM
