"""A trained lifter, rebuilt from its checkpoint alone, and its predictions.

`load_lifter` reads a ``checkpoint.pt`` written by `tasks.lifter.train_lifter` (model config,
weights and the normalisation statistics); `predict_lifter` maps 2D keypoints in pixels to
root-relative camera-frame 3D in millimetres, optionally averaged with the mirrored input;
`predict_dataset` does it for the rows of a `LiftingDataset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.lifter import Lifter
from pose3d.config import LifterConfig, from_dict
from pose3d.lifting import LiftingDataset, mirror_geometry, mirror_kp2d, mirror_pose3d
from pose3d.normalization import NormStats, denormalize_3d, normalize_2d


@dataclass
class LoadedLifter:
    """A lifter rebuilt from a checkpoint, in eval mode, with what it needs to run."""

    model: Lifter
    stats: NormStats
    train_config: dict[str, Any]


def load_lifter(path: str | Path, num_joints: int | None = None) -> LoadedLifter:
    """Rebuild a lifter from a checkpoint. Raises ValueError when it was made for another
    number of joints than `num_joints` (if given), FileNotFoundError when missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: lifter checkpoint not found")
    state = torch.load(path, map_location="cpu", weights_only=False)
    for key in ("model", "model_config", "stats"):
        if key not in state:
            raise ValueError(f"{path}: not a lifter checkpoint (no {key!r})")
    cfg = from_dict(LifterConfig, state["model_config"], "model_config")
    if num_joints is not None and cfg.num_joints != num_joints:
        raise ValueError(
            f"{path}: checkpoint was trained for {cfg.num_joints} joints, the data has {num_joints}"
        )
    model = Lifter(cfg)
    model.load_state_dict(state["model"])
    model.eval()
    train_config = state.get("fingerprint", {}).get("train_lifter", {})
    return LoadedLifter(model, NormStats.from_dict(state["stats"]), train_config)


@torch.no_grad()
def _run(model: Lifter, x: np.ndarray, batch_size: int) -> np.ndarray:
    model.eval()
    xt = torch.from_numpy(x)
    out = [model(xt[i : i + batch_size]) for i in range(0, len(xt), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.out_dim), np.float32)


def predict_lifter(
    lifter: LoadedLifter,
    kp2d_px: np.ndarray,
    image_wh_px: np.ndarray,
    principal_px: np.ndarray | None = None,
    flip_test: bool = False,
    batch_size: int = 8192,
    geometry: np.ndarray | None = None,
) -> np.ndarray:
    """2D keypoints -> root-relative camera-frame 3D in mm (root at 0).

    With `flip_test` the prediction is averaged with the un-mirrored prediction of the input
    mirrored about ``principal_px`` (the image centre when None). A lifter with the floor input
    needs the rows' view `geometry` (ValueError without it). Shapes: kp2d_px (N, J, 2),
    image_wh_px (N, 2), principal_px (N, 2) or None, geometry (N, G) or None -> (N, J, 3).
    """
    stats = lifter.stats
    if kp2d_px.ndim != 3 or kp2d_px.shape[1] != stats.num_joints:
        raise ValueError(
            f"kp2d_px has shape {kp2d_px.shape}; the lifter expects (N, {stats.num_joints}, 2)"
        )
    pred = denormalize_3d(
        _run(lifter.model, normalize_2d(kp2d_px, image_wh_px, stats, geometry), batch_size),
        stats,
    )
    if not flip_test:
        return pred
    centre = np.asarray(image_wh_px, np.float64) / 2.0 if principal_px is None else principal_px
    geometry_m = None if geometry is None else mirror_geometry(geometry)
    x_m = normalize_2d(mirror_kp2d(kp2d_px, centre), image_wh_px, stats, geometry_m)
    pred_m = mirror_pose3d(denormalize_3d(_run(lifter.model, x_m, batch_size), stats))
    return 0.5 * (pred + pred_m)


def predict_dataset(lifter: LoadedLifter, data: LiftingDataset, flip_test: bool) -> np.ndarray:
    """`predict_lifter` on the rows of `data`. Shapes: -> (len(data), J, 3)."""
    return predict_lifter(
        lifter, data.kp2d_px, data.image_wh_px, data.principal_px, flip_test,
        geometry=data.geometry,
    )  # fmt: skip
