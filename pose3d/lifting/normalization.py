"""Standardisation of the lifter's inputs (2D keypoints) and outputs (root-relative 3D).

The statistics are computed artifacts: `compute_stats` derives them from the training set, they are
saved in the lifter checkpoint (`NormStats.to_dict`) and reloaded with it, never typed into params.

2D pre-transforms (``mode_2d``), applied before the per-coordinate z-score:
- ``"zscore"``: none; pixel coordinates are standardised directly (Martinez et al. 2017).
- ``"image"``: pixels mapped to [-1, 1] across the image width, aspect kept
  (``u / w * 2 - 1``, ``v / w * 2 - h / w``, as VideoPose3D), so cameras of other sizes agree.
- ``"root_scale"``: per sample, the root joint is subtracted and the pose divided by its RMS
  distance to the root; position and size in the image are discarded.

Outputs: the non-root joints of the root-relative camera-frame pose in millimetres, standardised
per coordinate; the root is 0 by construction and is re-inserted by `denormalize_3d`.

Floor input (``floor_input``): two more inputs after the 2D, each ankle's inverse depth where its
ray meets the floor (`pose3d.lifting.floor`), standardised like the 2D. It needs each row's view geometry
(a dataset with cameras); a row whose geometry is unknown (NaN) gets the training mean, as a
missing joint does.

Missing joints: a joint left out of ``input_joints`` is dropped from the input altogether. A
NaN coordinate of a kept joint (e.g. the Stacked Hourglass has no Neck, joint 9) is filled with 0
after standardisation, which is the training mean of that coordinate; statistics ignore NaNs, and a
coordinate that is NaN in every training row gets mean 0 and std 1 (so it is always 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pose3d.lifting.floor import floor_inverse_depth

NORM_2D_MODES = ("zscore", "image", "root_scale")
ROOT = 0
MIN_STD = 1e-6


@dataclass(frozen=True)
class NormStats:
    """Standardisation statistics. Shapes: mean_2d/std_2d (2 * len(input_joints) + the floor
    inputs,), mean_3d/std_3d (3 * (num_joints - 1),)."""

    mode_2d: str
    num_joints: int
    input_joints: tuple[int, ...]
    mean_2d: np.ndarray
    std_2d: np.ndarray
    mean_3d: np.ndarray
    std_3d: np.ndarray
    floor_input: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers, for checkpoints and JSON."""
        return {
            "mode_2d": self.mode_2d,
            "num_joints": self.num_joints,
            "input_joints": list(self.input_joints),
            "mean_2d": self.mean_2d.tolist(),
            "std_2d": self.std_2d.tolist(),
            "mean_3d": self.mean_3d.tolist(),
            "std_3d": self.std_3d.tolist(),
            "floor_input": self.floor_input,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NormStats:
        try:
            return cls(
                mode_2d=str(data["mode_2d"]),
                num_joints=int(data["num_joints"]),
                input_joints=tuple(int(j) for j in data["input_joints"]),
                mean_2d=np.asarray(data["mean_2d"], dtype=np.float64),
                std_2d=np.asarray(data["std_2d"], dtype=np.float64),
                mean_3d=np.asarray(data["mean_3d"], dtype=np.float64),
                std_3d=np.asarray(data["std_3d"], dtype=np.float64),
                floor_input=bool(data.get("floor_input", False)),
            )
        except KeyError as err:
            raise ValueError(f"normalisation statistics lack key {err}") from err


def resolve_input_joints(input_joints: tuple[int, ...], num_joints: int) -> tuple[int, ...]:
    """Empty means every joint; otherwise check the indices. Raises ValueError when out of range."""
    joints = tuple(input_joints) or tuple(range(num_joints))
    bad = [j for j in joints if not 0 <= j < num_joints]
    if bad or len(set(joints)) != len(joints):
        raise ValueError(f"input_joints {list(joints)}: need distinct indices in [0, {num_joints})")
    return joints


def prepare_2d(kp2d_px: np.ndarray, image_wh_px: np.ndarray, mode_2d: str) -> np.ndarray:
    """Apply the 2D pre-transform of `mode_2d` (see the module docstring).

    Shapes: kp2d_px (N, J, 2), image_wh_px (N, 2) -> (N, J, 2) float64.
    """
    kp = np.asarray(kp2d_px, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[2] != 2:
        raise ValueError(f"kp2d_px: expected shape (N, J, 2), got {kp.shape}")
    if mode_2d == "zscore":
        return kp
    if mode_2d == "image":
        wh = np.asarray(image_wh_px, dtype=np.float64)
        if wh.shape != (kp.shape[0], 2):
            raise ValueError(f"image_wh_px: expected shape ({kp.shape[0]}, 2), got {wh.shape}")
        w = wh[:, None, 0:1]
        offset = np.stack([np.ones(len(wh)), wh[:, 1] / wh[:, 0]], axis=-1)[:, None, :]
        return kp / w * 2.0 - offset
    if mode_2d == "root_scale":
        centred = kp - kp[:, ROOT : ROOT + 1, :]
        with np.errstate(invalid="ignore"):
            scale = np.sqrt(np.nanmean(np.sum(centred**2, axis=-1), axis=-1))
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        return centred / scale[:, None, None]
    raise ValueError(f"mode_2d {mode_2d!r}: expected one of {NORM_2D_MODES}")


def input_features(
    kp2d_px: np.ndarray,
    image_wh_px: np.ndarray,
    mode_2d: str,
    input_joints: tuple[int, ...],
    geometry: np.ndarray | None = None,
) -> np.ndarray:
    """The unstandardised model input: the pre-transformed 2D of `input_joints`, then, when
    `geometry` is given, the floor inputs (`pose3d.lifting.floor.floor_inverse_depth`).

    Shapes: kp2d_px (N, J, 2), image_wh_px (N, 2), geometry (N, G) -> (N, 2 * len(input_joints)
    [+ len(FLOOR_JOINTS)]) float64.
    """
    x = prepare_2d(kp2d_px, image_wh_px, mode_2d)[:, list(input_joints), :]
    x = x.reshape(len(x), -1)
    if geometry is None:
        return x
    return np.concatenate([x, floor_inverse_depth(kp2d_px, geometry)], axis=1)


def _nan_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    seen = np.isfinite(x).any(axis=0)
    mean = np.zeros(x.shape[1])
    std = np.ones(x.shape[1])
    if seen.any():
        mean[seen] = np.nanmean(x[:, seen], axis=0)
        std[seen] = np.maximum(np.nanstd(x[:, seen], axis=0), MIN_STD)
    return mean, std


def compute_stats(
    kp2d_px: np.ndarray,
    image_wh_px: np.ndarray,
    pose3d_cam_mm: np.ndarray,
    mode_2d: str = "zscore",
    input_joints: tuple[int, ...] = (),
    geometry: np.ndarray | None = None,
) -> NormStats:
    """Training-set statistics (NaN-aware), with the floor input when `geometry` is given.
    Raises ValueError on an empty training set.

    Shapes: kp2d_px (N, J, 2), image_wh_px (N, 2), pose3d_cam_mm (N, J, 3) root-relative,
    geometry (N, G) or None.
    """
    if len(kp2d_px) == 0:
        raise ValueError("cannot compute normalisation statistics from an empty training set")
    num_joints = kp2d_px.shape[1]
    if pose3d_cam_mm.shape != (len(kp2d_px), num_joints, 3):
        raise ValueError(
            f"pose3d_cam_mm: expected shape {(len(kp2d_px), num_joints, 3)}, got {pose3d_cam_mm.shape}"
        )
    joints = resolve_input_joints(input_joints, num_joints)
    x = input_features(kp2d_px, image_wh_px, mode_2d, joints, geometry)
    y = _non_root(np.asarray(pose3d_cam_mm, dtype=np.float64))
    mean_2d, std_2d = _nan_stats(x)
    mean_3d, std_3d = _nan_stats(y)
    return NormStats(
        mode_2d, num_joints, joints, mean_2d, std_2d, mean_3d, std_3d, geometry is not None
    )


def _non_root(pose: np.ndarray) -> np.ndarray:
    return np.delete(pose, ROOT, axis=1).reshape(len(pose), -1)


def _check_joints(num_joints: int, stats: NormStats, what: str) -> None:
    if num_joints != stats.num_joints:
        raise ValueError(
            f"{what} has {num_joints} joints but the normalisation statistics (and the model "
            f"trained with them) are for {stats.num_joints} joints"
        )


def doubtful_as_missing(
    kp2d_px: np.ndarray, scores: np.ndarray | None, min_score: float
) -> np.ndarray:
    """`kp2d_px` with each joint whose score is below `min_score` set missing (NaN), which the
    standardisation turns into the training mean. Unchanged where `scores` is None or
    `min_score` <= 0. Shapes: kp2d_px (N, J, 2), scores (N, J) -> (N, J, 2)."""
    if scores is None or min_score <= 0:
        return kp2d_px
    return np.where((np.asarray(scores) < min_score)[..., None], np.nan, kp2d_px).astype(
        kp2d_px.dtype
    )


def normalize_2d(
    kp2d_px: np.ndarray,
    image_wh_px: np.ndarray,
    stats: NormStats,
    geometry: np.ndarray | None = None,
) -> np.ndarray:
    """Model input: kept joints (and the floor input when `stats` has it), standardised,
    NaN -> 0 (the training mean). Raises ValueError when the floor input lacks `geometry`.

    Shapes: kp2d_px (N, J, 2), image_wh_px (N, 2), geometry (N, G) or None -> (N, D_in) float32.
    """
    _check_joints(np.asarray(kp2d_px).shape[1], stats, "kp2d_px")
    if stats.floor_input and geometry is None:
        raise ValueError(
            "this lifter takes the floor input (train_lifter.model.floor_input) and needs each "
            "row's view geometry: use a dataset with cameras (cameras.h5)"
        )
    x = input_features(
        kp2d_px, image_wh_px, stats.mode_2d, stats.input_joints,
        geometry if stats.floor_input else None,
    )  # fmt: skip
    x = (x - stats.mean_2d) / stats.std_2d
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def normalize_3d(pose3d_cam_mm: np.ndarray, stats: NormStats) -> np.ndarray:
    """Model target. Shapes: (N, J, 3) root-relative mm -> (N, 3 * (J - 1)) float32."""
    _check_joints(np.asarray(pose3d_cam_mm).shape[1], stats, "pose3d_cam_mm")
    y = _non_root(np.asarray(pose3d_cam_mm, dtype=np.float64))
    return ((y - stats.mean_3d) / stats.std_3d).astype(np.float32)


def denormalize_3d(y: np.ndarray, stats: NormStats) -> np.ndarray:
    """Model output -> root-relative mm with the root re-inserted at 0.

    Shapes: (N, 3 * (J - 1)) -> (N, J, 3) float64.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] != 3 * (stats.num_joints - 1):
        raise ValueError(f"expected shape (N, {3 * (stats.num_joints - 1)}), got {y.shape}")
    pose = (y * stats.std_3d + stats.mean_3d).reshape(len(y), stats.num_joints - 1, 3)
    return np.insert(pose, ROOT, 0.0, axis=1)
