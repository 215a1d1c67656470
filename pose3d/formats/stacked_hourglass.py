"""Stacked Hourglass 2D detections in the 3d-pose-baseline layout.

Layout (see ../shared/data/README.md): ``<root>/S<n>/StackedHourglass/<Action>.<camera>.h5``
with dataset ``poses``, (N, 16, 2) float pixels, MPII joint order. File names spell the action
with underscores where the pose files (``MyPoses/3D_positions/<Action>.h5``) use spaces
("Directions_1" <-> "Directions 1"); row i is frame i of the matching pose file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from pose3d.io import atomic_path
from pose3d.skeleton import MPII16_JOINTS, mpii16_to_h36m17

SH_FOLDER = "StackedHourglass"
SH_DATASET = "poses"


@dataclass(frozen=True)
class SHFile:
    """One detection file: its sequence identity (pose-file action spelling) and path."""

    subject: str
    action: str
    camera: str
    path: Path


def file_action(action: str) -> str:
    """Pose-file action name -> file-name spelling: 'Directions 1' -> 'Directions_1'."""
    return action.replace(" ", "_")


def pose_action(file_stem_action: str) -> str:
    """File-name spelling -> pose-file action name: 'Directions_1' -> 'Directions 1'."""
    return file_stem_action.replace("_", " ")


def sh_path(root: str | os.PathLike[str], subject: str, action: str, camera: str) -> Path:
    """Path of the detections of (subject, pose-file action name, camera id) under `root`."""
    return Path(root) / subject / SH_FOLDER / f"{file_action(action)}.{camera}.h5"


def parse_sh_name(path: str | os.PathLike[str]) -> SHFile:
    """'<root>/S1/StackedHourglass/Directions_1.54138969.h5' -> SHFile('S1', 'Directions 1', ...).

    Raises ValueError naming the path when it does not follow the layout.
    """
    path = Path(path)
    parts = path.name.split(".")
    if len(parts) != 3 or parts[2] != "h5" or not parts[0] or not parts[1].isdigit():
        raise ValueError(f"{path}: expected a file name <Action>.<camera id>.h5")
    subject = path.parent.parent.name
    if path.parent.name != SH_FOLDER or not (subject[:1] == "S" and subject[1:].isdigit()):
        raise ValueError(f"{path}: expected to lie in S<n>/{SH_FOLDER}/")
    return SHFile(subject=subject, action=pose_action(parts[0]), camera=parts[1], path=path)


def list_sh_files(root: str | os.PathLike[str], subjects: tuple[str, ...] = ()) -> list[SHFile]:
    """Every detection file under `root` (only `subjects` if given), sorted by identity."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: Stacked Hourglass root folder not found")
    paths = sorted(root.glob(f"S*/{SH_FOLDER}/*.h5"))
    files = [parse_sh_name(p) for p in paths]
    if subjects:
        files = [f for f in files if f.subject in subjects]
    return sorted(files, key=lambda f: (f.subject, f.action, f.camera))


def read_sh_poses(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one detection file. Shapes: -> (N, 16, 2) px, MPII order, float64."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: Stacked Hourglass file not found")
    try:
        with h5py.File(path, "r") as f:
            if SH_DATASET not in f:
                raise ValueError(f"{path}: no dataset {SH_DATASET!r} (found {list(f)})")
            poses = np.asarray(f[SH_DATASET][()], dtype=np.float64)
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file ({err})") from err
    if poses.ndim != 3 or poses.shape[1:] != (len(MPII16_JOINTS), 2):
        raise ValueError(f"{path}: {SH_DATASET} has shape {poses.shape}, expected (N, 16, 2)")
    return poses


def read_sh_h36m17(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one detection file in H36M-17 order; the Neck/Nose joint (9) is NaN.

    Shapes: -> (N, 17, 2) px, float64.
    """
    return mpii16_to_h36m17(read_sh_poses(path))


def write_sh_poses(path: str | os.PathLike[str], kp16_px: np.ndarray) -> None:
    """Write (N, 16, 2) MPII-order pixels as a ``poses`` dataset (for fixtures and tests)."""
    if kp16_px.ndim != 3 or kp16_px.shape[1:] != (len(MPII16_JOINTS), 2):
        raise ValueError(f"expected detections of shape (N, 16, 2), got {kp16_px.shape}")
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset(SH_DATASET, data=np.asarray(kp16_px, dtype=np.float64))
