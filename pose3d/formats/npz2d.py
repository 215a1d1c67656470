"""VideoPose3D-style 2D keypoint archives (``.npz`` with ``positions_2d``).

Layout: ``positions_2d`` is a pickled dict {subject: {action: [per-camera array, ...]}} whose
arrays are (N, J, 2) pixels (or (N, J, 3) with a score per joint), row i = frame i of the
sequence; the optional ``metadata`` key is a pickled dict, e.g. {"layout_name": "h36m",
"num_joints": 17, "keypoints_symmetry": [...]}. Only the H36M-17 joint order is accepted: any
other joint count, or a ``layout_name`` other than "h36m" (VideoPose3D's "coco" detections also
have 17 joints, in another order), is rejected. The i-th array of an action belongs to the
i-th of the four standard Human3.6M cameras (`H36M_CAMERA_IDS`) unless ``metadata`` has
``camera_ids``: a list of ids, or {subject: list of ids}.

Trust: the dicts are stored as pickles, and unpickling runs whatever code the file names.
`read_positions_2d` unpickles only when called with ``trust_pickle=True``; pass that only for a
file the user chose (the ``import_keypoints.npz_path`` param), never for a downloaded or
discovered one.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.io import atomic_path
from pose3d.skeleton import NUM_JOINTS

H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
POSITIONS_KEY = "positions_2d"
METADATA_KEY = "metadata"


@dataclass(frozen=True)
class Npz2DSequence:
    """The keypoints of one (subject, action, camera).

    Shapes: kp2d_px (N, 17, 2) px, H36M-17 order; scores (N, 17) or None when the file has none.
    """

    subject: str
    action: str
    camera: str
    kp2d_px: np.ndarray
    scores: np.ndarray | None


def _load(path: Path, trust_pickle: bool) -> tuple[Any, dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: positions_2d archive not found")
    try:
        with np.load(path, allow_pickle=trust_pickle) as data:
            if POSITIONS_KEY not in data.files:
                raise ValueError(f"{path}: no {POSITIONS_KEY!r} array (found {data.files})")
            positions = data[POSITIONS_KEY]
            metadata = data[METADATA_KEY] if METADATA_KEY in data.files else None
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ValueError(
                f"{path}: {POSITIONS_KEY} is a pickled object; load it with trust_pickle=True "
                "only if you trust the file (unpickling can run arbitrary code)"
            ) from err
        raise
    except (OSError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as err:
        raise ValueError(f"{path}: not a readable .npz archive ({err})") from err
    positions = positions.item() if positions.dtype == object and positions.ndim == 0 else positions
    meta = metadata.item() if metadata is not None and metadata.ndim == 0 else metadata
    if not isinstance(positions, Mapping):
        raise ValueError(f"{path}: {POSITIONS_KEY} is {type(positions).__name__}, expected a dict")
    if meta is not None and not isinstance(meta, Mapping):
        raise ValueError(f"{path}: {METADATA_KEY} is {type(meta).__name__}, expected a dict")
    return positions, dict(meta or {})


def _check_metadata(path: Path, meta: Mapping[str, Any]) -> None:
    layout = meta.get("layout_name")
    if layout is not None and str(layout).lower() != "h36m":
        raise ValueError(
            f"{path}: metadata layout_name is {layout!r}; only 'h36m' (H36M-17 order) is accepted"
        )
    joints = meta.get("num_joints")
    if joints is not None and joints != NUM_JOINTS:
        raise ValueError(f"{path}: metadata num_joints is {joints}, expected {NUM_JOINTS}")


def _camera_ids(path: Path, meta: Mapping[str, Any], subject: str) -> Sequence[str]:
    ids = meta.get("camera_ids", H36M_CAMERA_IDS)
    if isinstance(ids, Mapping):
        if subject not in ids:
            raise ValueError(f"{path}: metadata camera_ids has no entry for subject {subject!r}")
        ids = ids[subject]
    return [str(i) for i in ids]


def _sequence(where: str, array: Any, subject: str, action: str, camera: str) -> Npz2DSequence:
    arr = np.asarray(array, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[-1] not in (2, 3):
        raise ValueError(f"{where}: shape {arr.shape}, expected (N, {NUM_JOINTS}, 2 or 3)")
    if arr.shape[1] != NUM_JOINTS:
        raise ValueError(
            f"{where}: {arr.shape[1]} joints, expected {NUM_JOINTS} (H36M-17 order); "
            "other joint layouts are not supported"
        )
    scores = arr[..., 2] if arr.shape[-1] == 3 else None
    return Npz2DSequence(subject, action, camera, arr[..., :2], scores)


def read_positions_2d(
    path: str | os.PathLike[str], *, trust_pickle: bool
) -> tuple[list[Npz2DSequence], dict[str, Any]]:
    """Read every (subject, action, camera) sequence of an archive, sorted, and its metadata.

    Raises ValueError naming the file and the subject/action/camera on a bad layout.
    """
    path = Path(path)
    positions, meta = _load(path, trust_pickle)
    _check_metadata(path, meta)
    out: list[Npz2DSequence] = []
    for subject in sorted(positions):
        actions = positions[subject]
        if not isinstance(actions, Mapping):
            raise ValueError(f"{path}: {POSITIONS_KEY}[{subject!r}] is not a dict of actions")
        cameras = _camera_ids(path, meta, str(subject))
        for action in sorted(actions):
            arrays = actions[action]
            where = f"{path}: {POSITIONS_KEY}[{subject!r}][{action!r}]"
            if not isinstance(arrays, (list, tuple)):
                raise ValueError(f"{where}: expected a list of per-camera arrays")
            if len(arrays) > len(cameras):
                raise ValueError(f"{where}: {len(arrays)} cameras, camera ids known: {cameras}")
            for i, array in enumerate(arrays):
                seq_where = f"{where}[{i}]"
                out.append(_sequence(seq_where, array, str(subject), str(action), cameras[i]))
    return out, meta


def write_positions_2d(
    path: str | os.PathLike[str],
    positions: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write an archive in the VideoPose3D layout (for fixtures and tests)."""
    arrays: dict[str, Any] = {POSITIONS_KEY: np.array(dict(positions), dtype=object)}
    if metadata is not None:
        arrays[METADATA_KEY] = np.array(dict(metadata), dtype=object)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
