"""Human3.6M official-release poses: ``S*/MyPoseFeatures/D3_Positions/<Action>.cdf``.

Each file holds the variable ``Pose`` of shape (1, N, 96): 32 joints x (x, y, z), world frame,
millimetres, at the 50 Hz of the videos. Read with cdflib (pure Python).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import cdflib
import numpy as np
from cdflib.cdfwrite import CDF as CDFWriter

from pose3d.formats.h36m import list_actions, poses_path, read_positions
from pose3d.skeleton import NUM_MOCAP_JOINTS

CDF_POSES_DIR = ("MyPoseFeatures", "D3_Positions")
CDF_VARIABLE = "Pose"


def cdf_poses_path(root: str | os.PathLike[str], subject: str, action: str) -> Path:
    """``<root>/<subject>/MyPoseFeatures/D3_Positions/<action>.cdf``."""
    return Path(root, subject, *CDF_POSES_DIR) / f"{action}.cdf"


def list_cdf_actions(root: str | os.PathLike[str], subject: str) -> list[str]:
    """Action names (file stems) of a subject's ``D3_Positions`` folder, sorted.

    Names starting with ``_`` (the release's ``_ALL`` files) are left out.
    """
    folder = Path(root, subject, *CDF_POSES_DIR)
    return sorted(p.stem for p in folder.glob("*.cdf") if not p.stem.startswith("_"))


def read_cdf_positions(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one ``D3_Positions`` CDF. Shapes: -> (N, 32, 3) world mm, float64.

    Raises FileNotFoundError, or ValueError naming the file if it is not a readable CDF or
    ``Pose`` is missing or has the wrong shape.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: poses file not found")
    try:
        cdf = cdflib.CDF(str(path))
        names = list(cdf.cdf_info().zVariables) + list(cdf.cdf_info().rVariables)
        if CDF_VARIABLE not in names:
            raise ValueError(f"{path}: no variable {CDF_VARIABLE!r} (found {names})")
        data = np.asarray(cdf.varget(CDF_VARIABLE), dtype=np.float64)
    except ValueError as err:
        if str(err).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable CDF file ({err})") from err
    except (OSError, KeyError, IndexError, TypeError) as err:
        raise ValueError(f"{path}: not a readable CDF file ({err})") from err
    width = NUM_MOCAP_JOINTS * 3
    if data.shape[-1] != width or data.size % width:
        raise ValueError(f"{path}: {CDF_VARIABLE} has shape {data.shape}, expected (1, N, 96)")
    if data.ndim == 3 and data.shape[0] != 1:
        raise ValueError(f"{path}: {CDF_VARIABLE} has shape {data.shape}, expected (1, N, 96)")
    return data.reshape(-1, NUM_MOCAP_JOINTS, 3)


def write_cdf_positions(path: str | os.PathLike[str], pose32_world_mm: np.ndarray) -> None:
    """Write (N, 32, 3) world mm poses as a release-style CDF (``Pose`` of shape (1, N, 96)).

    Written in a temporary folder and renamed into place.
    """
    pose = np.asarray(pose32_world_mm, dtype=np.float64)
    if pose.ndim != 3 or pose.shape[1:] != (NUM_MOCAP_JOINTS, 3):
        raise ValueError(f"expected poses of shape (N, 32, 3), got {pose.shape}")
    n = pose.shape[0]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        tmp = tmp_dir / path.name
        writer = CDFWriter(str(tmp), cdf_spec={"Compressed": 0})
        spec = {
            "Variable": CDF_VARIABLE,
            "Data_Type": CDFWriter.CDF_DOUBLE,
            "Num_Elements": 1,
            "Rec_Vary": True,
            "Dim_Sizes": [n, NUM_MOCAP_JOINTS * 3],
        }
        writer.write_var(spec, var_data=pose.reshape(1, n, -1))
        writer.close()
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Pose sources: the 3d-pose-baseline HDF5 files or the release's CDF files.

POSE_SOURCES = ("h5", "cdf")


def resolve_pose_source(
    root: str | os.PathLike[str], subject: str, pose_source: str
) -> tuple[str, list[str]]:
    """Pick a subject's pose files: returns (source "h5" | "cdf", action names, sorted).

    `pose_source` "auto" takes the HDF5 files where the subject has any, else the CDF files.
    Raises FileNotFoundError naming the folder(s) when the chosen source has no files.
    """
    if pose_source not in ("auto", *POSE_SOURCES):
        raise ValueError(f"pose source {pose_source!r}: expected auto, h5 or cdf")
    found = {"h5": list_actions(root, subject), "cdf": list_cdf_actions(root, subject)}
    chosen = ("h5" if found["h5"] else "cdf") if pose_source == "auto" else pose_source
    if not found[chosen]:
        h5_dir, cdf_dir = poses_path(root, subject, "x").parent, cdf_poses_path(root, subject, "x")
        wanted = {
            "auto": f"{h5_dir}/*.h5 or {cdf_dir.parent}/*.cdf",
            "h5": f"{h5_dir}/*.h5",
            "cdf": f"{cdf_dir.parent}/*.cdf",
        }[pose_source]
        subjects = sorted(p.name for p in Path(root).glob("S*") if p.is_dir())
        raise FileNotFoundError(
            f"{Path(root) / subject}: no pose files for subject {subject} (pose source "
            f"{pose_source}: expected {wanted}; subjects under {root}: {subjects or 'none'})"
        )
    return chosen, found[chosen]


def sequence_path(root: str | os.PathLike[str], subject: str, action: str, source: str) -> Path:
    """The pose file of one sequence for `source` "h5" or "cdf"."""
    if source == "h5":
        return poses_path(root, subject, action)
    return cdf_poses_path(root, subject, action)


def read_sequence(path: str | os.PathLike[str], source: str) -> np.ndarray:
    """Read one pose file of `source`. Shapes: -> (N, 32, 3) world mm."""
    return read_positions(path) if source == "h5" else read_cdf_positions(path)
