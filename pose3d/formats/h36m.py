"""Human3.6M in the 3d-pose-baseline layout: ``cameras.h5`` and ``S*/MyPoses/3D_positions``.

Layout (see ../shared/data/README.md):
- ``cameras.h5``: ``subject{n}/camera{1..4}/{R, T, f, c, k, p, Name}``; Name is the camera id
  stored as character codes. Synthetic trees add ``width`` and ``height`` datasets; for the real
  cameras they come from `REAL_IMAGE_SIZES`.
- ``S{n}/MyPoses/3D_positions/<Action>.h5``: dataset ``3D_positions``, (96, N) world mm.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from pose3d.camera import Camera
from pose3d.io import atomic_path
from pose3d.skeleton import NUM_MOCAP_JOINTS

# Image (width, height) of the four real Human3.6M cameras.
REAL_IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002),
    "55011271": (1000, 1000),
    "58860488": (1000, 1000),
    "60457274": (1000, 1002),
}
POSES_DATASET = "3D_positions"


def subject_number(subject: str) -> int:
    """'S1' -> 1. Raises ValueError on anything else."""
    if not (subject.startswith("S") and subject[1:].isdigit()):
        raise ValueError(f"subject name {subject!r} is not of the form S<number>")
    return int(subject[1:])


def _decode_name(raw: np.ndarray) -> str:
    flat = np.asarray(raw).reshape(-1)
    if flat.dtype.kind in "SUO":
        return "".join(x.decode() if isinstance(x, bytes) else str(x) for x in flat)
    return "".join(chr(int(v)) for v in flat)


def read_cameras(path: str | os.PathLike[str]) -> dict[tuple[str, str], Camera]:
    """Read ``cameras.h5`` -> {(subject 'S1', camera id '54138969'): Camera}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: cameras file not found")
    cams: dict[tuple[str, str], Camera] = {}
    try:
        with h5py.File(path, "r") as f:
            for sub_key in f:
                if not sub_key.startswith("subject"):
                    continue
                subject = f"S{int(sub_key[len('subject') :])}"
                for cam_key in f[sub_key]:
                    g = f[sub_key][cam_key]
                    where = f"{path}:{sub_key}/{cam_key}"
                    missing = [d for d in ("R", "T", "f", "c", "k", "p", "Name") if d not in g]
                    if missing:
                        raise ValueError(f"{where}: missing dataset(s) {missing}")
                    name = _decode_name(g["Name"][()])
                    if "width" in g and "height" in g:
                        size = (int(g["width"][()]), int(g["height"][()]))
                    elif name in REAL_IMAGE_SIZES:
                        size = REAL_IMAGE_SIZES[name]
                    else:
                        raise ValueError(f"{where}: camera {name!r} has no width/height datasets")
                    cams[(subject, name)] = Camera(
                        name=name,
                        R=g["R"][()],
                        T=g["T"][()],
                        f=g["f"][()],
                        c=g["c"][()],
                        k=g["k"][()],
                        p=g["p"][()],
                        width=size[0],
                        height=size[1],
                    )
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file ({err})") from err
    if not cams:
        raise ValueError(f"{path}: no subject*/camera* groups found")
    return cams


def write_cameras(path: str | os.PathLike[str], cameras: dict[tuple[str, str], Camera]) -> None:
    """Write cameras in the ``cameras.h5`` layout (camera groups numbered in sorted id order)."""
    by_subject: dict[str, list[Camera]] = {}
    for (subject, _), cam in sorted(cameras.items()):
        by_subject.setdefault(subject, []).append(cam)
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as f:
        for subject, cams in by_subject.items():
            for i, cam in enumerate(cams, start=1):
                g = f.create_group(f"subject{subject_number(subject)}/camera{i}")
                g["R"] = cam.R
                g["T"] = cam.T.reshape(3, 1)
                g["f"] = cam.f.reshape(2, 1)
                g["c"] = cam.c.reshape(2, 1)
                g["k"] = cam.k.reshape(3, 1)
                g["p"] = cam.p.reshape(2, 1)
                g["Name"] = np.array([float(ord(ch)) for ch in cam.name]).reshape(-1, 1)
                g["width"] = cam.width
                g["height"] = cam.height


def poses_path(root: str | os.PathLike[str], subject: str, action: str) -> Path:
    return Path(root) / subject / "MyPoses" / POSES_DATASET / f"{action}.h5"


def read_positions(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one ``3D_positions`` file. Shapes: -> (N, 32, 3) world mm, float64."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: poses file not found")
    try:
        with h5py.File(path, "r") as f:
            if POSES_DATASET not in f:
                raise ValueError(f"{path}: no dataset {POSES_DATASET!r} (found {list(f)})")
            data = np.asarray(f[POSES_DATASET][()], dtype=np.float64)
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file ({err})") from err
    if data.ndim != 2 or data.shape[0] != NUM_MOCAP_JOINTS * 3:
        raise ValueError(f"{path}: {POSES_DATASET} has shape {data.shape}, expected (96, N)")
    return data.T.reshape(-1, NUM_MOCAP_JOINTS, 3)


def write_positions(path: str | os.PathLike[str], pose32_world_mm: np.ndarray) -> None:
    """Write (N, 32, 3) world mm poses as a (96, N) ``3D_positions`` dataset."""
    if pose32_world_mm.ndim != 3 or pose32_world_mm.shape[1:] != (NUM_MOCAP_JOINTS, 3):
        raise ValueError(f"expected poses of shape (N, 32, 3), got {pose32_world_mm.shape}")
    n = pose32_world_mm.shape[0]
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset(POSES_DATASET, data=pose32_world_mm.reshape(n, -1).T.astype(np.float64))


def list_actions(root: str | os.PathLike[str], subject: str) -> list[str]:
    """Action names (file stems) of a subject's ``3D_positions`` folder, sorted."""
    folder = Path(root) / subject / "MyPoses" / POSES_DATASET
    return sorted(p.stem for p in folder.glob("*.h5"))


# --------------------------------------------------------------------------------------------
# Action spellings and per-camera views (used by the `extract` stage).

# 3d-pose-baseline spelling -> the official release's spelling of the two renamed actions.
RELEASE_ACTION_NAMES: dict[str, str] = {"Photo": "TakingPhoto", "WalkDog": "WalkingDog"}


def canonical_action(action: str) -> str:
    """The 3d-pose-baseline spelling of an action: 'TakingPhoto 1' -> 'Photo 1'."""
    base, sep, rest = action.partition(" ")
    for short, release in RELEASE_ACTION_NAMES.items():
        if base == release:
            return short + sep + rest
    return action


def action_spellings(action: str) -> list[str]:
    """Every spelling of an action, canonical first: 'Photo 1' -> ['Photo 1', 'TakingPhoto 1']."""
    canonical = canonical_action(action)
    base, sep, rest = canonical.partition(" ")
    spellings = [canonical]
    if base in RELEASE_ACTION_NAMES:
        spellings.append(RELEASE_ACTION_NAMES[base] + sep + rest)
    if action not in spellings:
        spellings.append(action)
    return spellings


def camera_view(
    pose17_world_mm: np.ndarray, cam: Camera
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One camera's view of world poses: root-relative 3D, root and distorted 2D.

    Returns (pose3d_cam_mm root-relative, root_cam_mm, kp2d_px).
    Shapes: (N, 17, 3) world mm -> (N, 17, 3) mm, (N, 3) mm, (N, 17, 2) px.
    """
    from pose3d.camera import project, world_to_camera

    pose_cam_mm = world_to_camera(np.asarray(pose17_world_mm, dtype=np.float64), cam)
    kp2d_px = project(pose_cam_mm, cam)
    root_cam_mm = pose_cam_mm[:, 0, :].copy()
    return pose_cam_mm - root_cam_mm[:, None, :], root_cam_mm, kp2d_px
