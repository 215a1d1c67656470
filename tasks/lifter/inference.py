"""A trained lifter, rebuilt from its checkpoint alone, and its predictions.

`load_lifter` reads a ``checkpoint.pt`` written by `tasks.train_lifter.train_lifter` (model
config, weights, the normalisation statistics, and what training decided for inference: the
flip test); `predict_lifter` maps 2D keypoints in pixels to
root-relative camera-frame 3D in millimetres, optionally averaged with the mirrored input;
`predict_dataset` does it for the rows of a `LiftingDataset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.lifter import Lifter
from pose3d.config import LifterConfig, from_dict
from pose3d.lifting.dataset import LiftingDataset
from pose3d.lifting.geometry import mirror_geometry
from pose3d.lifting.mirror import mirror_kp2d, mirror_pose3d
from pose3d.lifting.normalization import (
    NormStats,
    denormalize_3d,
    doubtful_as_missing,
    normalize_2d,
)
from tasks.engine import CheckpointError, load_checkpoint


@dataclass
class LoadedLifter:
    """A lifter rebuilt from a checkpoint, in eval mode on its device, with what it needs to
    run: the normalisation statistics and the flip test that training chose."""

    model: Lifter
    stats: NormStats
    flip_test: bool = False


def load_lifter(
    path: str | Path, num_joints: int | None = None, device: torch.device | None = None
) -> LoadedLifter:
    """Rebuild a lifter from a checkpoint on `device` (default cpu). Raises FileNotFoundError
    when it is missing, CheckpointError naming the file when it cannot be read, ValueError when
    it was made for another number of joints than `num_joints` (if given)."""
    path = Path(path)
    state = load_checkpoint(path, ("model", "config", "stats"), kind="lifter")
    try:
        cfg = from_dict(LifterConfig, state["config"], "config")
    except ValueError as err:
        raise CheckpointError(f"{path}: not a lifter checkpoint ({err})") from err
    if num_joints is not None and cfg.num_joints != num_joints:
        raise ValueError(
            f"{path}: checkpoint was trained for {cfg.num_joints} joints, the data has {num_joints}"
        )
    model = Lifter(cfg)
    model.load_state_dict(state["model"])
    model.to(device or torch.device("cpu")).eval()
    flip_test = bool(state.get("extra", {}).get("flip_test", False))
    return LoadedLifter(model, NormStats.from_dict(state["stats"]), flip_test)


@torch.no_grad()
def _run(model: Lifter, x: np.ndarray, batch_size: int) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    xt = torch.from_numpy(x)
    out = [model(xt[i : i + batch_size].to(device)) for i in range(0, len(xt), batch_size)]
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, model.out_dim), np.float32)


def predict_lifter(
    lifter: LoadedLifter,
    kp2d_px: np.ndarray,
    image_wh_px: np.ndarray,
    principal_px: np.ndarray | None = None,
    flip_test: bool | None = None,
    batch_size: int = 8192,
    geometry: np.ndarray | None = None,
    scores: np.ndarray | None = None,
) -> np.ndarray:
    """2D keypoints -> root-relative camera-frame 3D in mm (root at 0).

    With `flip_test` (None: the lifter's own choice from training) the prediction is averaged with the un-mirrored prediction of the input
    mirrored about ``principal_px`` (the image centre when None). A lifter with the floor input
    needs the rows' view `geometry` (ValueError without it). A lifter trained with
    ``min_score`` takes the joints scored below it as missing (given `scores`, the 2D's per-joint
    confidence). Shapes: kp2d_px (N, J, 2), image_wh_px (N, 2), principal_px (N, 2) or None,
    geometry (N, G) or None, scores (N, J) or None -> (N, J, 3).
    """
    stats = lifter.stats
    if kp2d_px.ndim != 3 or kp2d_px.shape[1] != stats.num_joints:
        raise ValueError(
            f"kp2d_px has shape {kp2d_px.shape}; the lifter expects (N, {stats.num_joints}, 2)"
        )
    kp2d_px = doubtful_as_missing(kp2d_px, scores, lifter.model.cfg.min_score)
    pred = denormalize_3d(
        _run(lifter.model, normalize_2d(kp2d_px, image_wh_px, stats, geometry), batch_size),
        stats,
    )
    if not (lifter.flip_test if flip_test is None else flip_test):
        return pred
    centre = np.asarray(image_wh_px, np.float64) / 2.0 if principal_px is None else principal_px
    geometry_m = None if geometry is None else mirror_geometry(geometry)
    x_m = normalize_2d(mirror_kp2d(kp2d_px, centre), image_wh_px, stats, geometry_m)
    pred_m = mirror_pose3d(denormalize_3d(_run(lifter.model, x_m, batch_size), stats))
    return 0.5 * (pred + pred_m)


def predict_dataset(
    lifter: LoadedLifter, data: LiftingDataset, flip_test: bool | None = None
) -> np.ndarray:
    """`predict_lifter` on the rows of `data` (flip test: the lifter's own unless given).
    Shapes: -> (len(data), J, 3)."""
    return predict_lifter(
        lifter, data.kp2d_px, data.image_wh_px, data.principal_px, flip_test,
        geometry=data.geometry, scores=data.scores,
    )  # fmt: skip
