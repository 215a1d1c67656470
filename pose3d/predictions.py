"""`pose3d predict`'s JSON: its one output schema, and the 2D keypoints it lifts from JSON.

Output (docs/predict.md has the full description), one JSON object:

- header: ``schema`` ("pose3d.predict"), ``schema_version`` (1), ``format`` ("h36m17"),
  ``joint_names`` (the 17 H36M names, the order of every per-joint array), ``units``,
  ``weights`` ({detector, cpn, lifter: {path, sha256}}; the detector and CPN are absent when
  given 2D was lifted), ``settings``, ``errors`` ([{source, error}]: inputs that could not be
  read, left out);
- ``frames``: one object per frame: ``source`` (the file), ``frame`` (0-based index in a video,
  0 for an image; a keypoint input's own frame number), ``image_wh`` ([w, h] px or null),
  ``person_found`` (false: the detector found nobody and the whole image was used; null: given
  2D, no detector ran),
  ``person_score`` (or null), ``box_xyxy_px`` ([x0, y0, x1, y1] or null), ``kp2d_px`` (17 x
  [x, y] image px, null = missing), ``scores`` (17), ``pose3d_cam_mm`` (17 x [x, y, z] mm in
  the camera frame, x right, y down, z forward, root-relative: Pelvis = [0, 0, 0]).

2D input: a list of frames, or an object ``{"format": "h36m17" | "coco17", "image_wh": [w, h],
"frames": [...]}`` (format h36m17 and image size unknown by default), each frame
``{"kp2d_px": 17 x [x, y] (null = missing), "scores": 17 (optional), "source": str (optional),
"frame": int (optional), "image_wh": [w, h] (optional)}``. COCO-17 keypoints are mapped with
`pose3d.coco.coco17_to_h36m17`. A predictions file is itself a valid input.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.coco import coco17_scores_to_h36m17, coco17_to_h36m17
from pose3d.io import write_text_atomic
from pose3d.skeleton import H36M17_JOINTS, NUM_JOINTS

SCHEMA = "pose3d.predict"
SCHEMA_VERSION = 1
KEYPOINT_FORMATS = ("h36m17", "coco17")
UNITS = {
    "kp2d_px": "image pixels, x right, y down, integer = pixel centre (OpenCV's)",
    "box_xyxy_px": "image pixels (x0, y0, x1, y1)",
    "pose3d_cam_mm": "millimetres, camera frame (x right, y down, z forward), root-relative",
    "scores": "2D confidence per joint (heatmap peak; 0 = missing)",
}
FRAME_KEYS = ("source", "frame", "image_wh", "person_found", "person_score", "box_xyxy_px",
              "kp2d_px", "scores", "pose3d_cam_mm")  # fmt: skip


@dataclass(frozen=True)
class FramePrediction:
    """One frame's result. Shapes: box_xyxy_px (4,) or None; kp2d_px (17, 2) px (NaN =
    missing); scores (17,); pose3d_cam_mm (17, 3) root-relative."""

    source: str
    frame: int
    image_wh: tuple[int, int] | None
    person_found: bool | None  # None: no detector ran (given 2D)
    box_xyxy_px: np.ndarray | None
    person_score: float | None
    kp2d_px: np.ndarray
    scores: np.ndarray
    pose3d_cam_mm: np.ndarray


def _nested(values: Any, digits: int) -> Any:
    """Nested lists of rounded floats; NaN and infinities become null (JSON has none)."""
    if np.ndim(values) == 0:
        value = float(values)
        return round(value, digits) if math.isfinite(value) else None
    return [_nested(v, digits) for v in values]


def frame_record(p: FramePrediction) -> dict[str, Any]:
    """The JSON object of one frame (see the module docstring)."""
    box = None if p.box_xyxy_px is None else _nested(p.box_xyxy_px, 2)
    return {
        "source": p.source,
        "frame": int(p.frame),
        "image_wh": None if p.image_wh is None else [int(v) for v in p.image_wh],
        "person_found": p.person_found,
        "person_score": _nested(np.float64(p.person_score), 4)
        if p.person_score is not None
        else None,
        "box_xyxy_px": box,
        "kp2d_px": _nested(p.kp2d_px, 2),
        "scores": _nested(p.scores, 4),
        "pose3d_cam_mm": _nested(p.pose3d_cam_mm, 1),
    }


def predictions_document(
    frames: Sequence[FramePrediction], weights: Mapping[str, Mapping[str, str]],
    settings: Mapping[str, Any], errors: Sequence[Mapping[str, str]],
) -> dict[str, Any]:  # fmt: skip
    """The whole output object: header, frames, errors."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "format": "h36m17",
        "joint_names": list(H36M17_JOINTS),
        "units": dict(UNITS),
        "weights": {k: dict(v) for k, v in weights.items()},
        "settings": dict(settings),
        "errors": [dict(e) for e in errors],
        "frames": [frame_record(f) for f in frames],
    }


def validate_predictions(doc: Mapping[str, Any], where: str) -> None:
    """Check a predictions object against the schema; ValueError naming `where`, the frame and
    the key."""
    if doc.get("schema") != SCHEMA or doc.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{where}: not a {SCHEMA} v{SCHEMA_VERSION} document")
    if doc.get("joint_names") != list(H36M17_JOINTS):
        raise ValueError(f"{where}: joint_names: expected the 17 H36M joints")
    shapes = {"kp2d_px": (NUM_JOINTS, 2), "scores": (NUM_JOINTS,), "pose3d_cam_mm": (NUM_JOINTS, 3)}
    for i, frame in enumerate(doc.get("frames", [])):
        if sorted(frame) != sorted(FRAME_KEYS):
            raise ValueError(f"{where}: frames[{i}]: keys {sorted(frame)}, expected {FRAME_KEYS}")
        for key, shape in shapes.items():
            got = np.array(frame[key], dtype=np.float64).shape
            if got != shape:
                raise ValueError(f"{where}: frames[{i}].{key}: shape {got}, expected {shape}")
        if bool(frame["person_found"]) != (frame["box_xyxy_px"] is not None):
            raise ValueError(f"{where}: frames[{i}]: person_found disagrees with box_xyxy_px")


def write_predictions(path: str | os.PathLike[str], doc: Mapping[str, Any]) -> None:
    """Validate and write atomically: the header indented, one line per frame."""
    validate_predictions(doc, str(path))
    frames = ",\n".join("    " + json.dumps(f) for f in doc["frames"])
    text = json.dumps({**doc, "frames": None}, indent=2)
    text = text.replace(
        '"frames": null', '"frames": [\n' + frames + "\n  ]" if frames else '"frames": []'
    )
    write_text_atomic(path, text + "\n")


@dataclass(frozen=True)
class KeypointFrames:
    """2D keypoints to lift. Shapes: kp2d_px (N, 17, 2) H36M-17 px (NaN = missing); scores
    (N, 17); image_wh (N, 2) px (NaN = unknown); source (N,) str; frame (N,) int."""

    source: list[str]
    frame: np.ndarray
    kp2d_px: np.ndarray
    scores: np.ndarray
    image_wh: np.ndarray


def _array(value: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """JSON numbers (null = missing) as a float array of `shape`; ValueError naming `where` and
    the entry for anything else: a string (even "NaN"), a boolean, or a non-finite number (a
    NaN or Infinity literal): only null marks a missing value."""
    try:
        array = np.array(value, dtype=np.float64)  # None -> NaN
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: expected numbers of shape {shape} ({err})") from err
    if array.shape != shape:
        raise ValueError(f"{where}: expected shape {shape}, got {array.shape}")
    leaves = np.array(value, dtype=object).reshape(-1)
    for k, leaf in enumerate(leaves):
        number = isinstance(leaf, int | float) and not isinstance(leaf, bool)
        if leaf is None or (number and math.isfinite(leaf)):
            continue
        index = "".join(f"[{i}]" for i in np.unravel_index(k, shape))
        kind = "not a finite number" if number else "not a number"
        raise ValueError(f"{where}{index}: {leaf!r} is {kind}; write null for a missing value")
    return array


def parse_keypoints_json(data: Any, name: str) -> KeypointFrames:
    """The 2D input object (see the module docstring) as arrays in H36M-17 order."""
    header = data if isinstance(data, dict) else {}
    frames = header.get("frames") if isinstance(data, dict) else data
    fmt = header.get("format", "h36m17")
    if fmt not in KEYPOINT_FORMATS:
        raise ValueError(f"{name}: format {fmt!r}: expected one of {KEYPOINT_FORMATS}")
    if not isinstance(frames, list) or not frames:
        raise ValueError(f"{name}: expected a non-empty list of frames (or an object with one)")
    default_wh = header.get("image_wh")
    kp, scores, wh, source, index = [], [], [], [], []
    for i, frame in enumerate(frames):
        where = f"{name}: frames[{i}]"
        if not isinstance(frame, dict) or "kp2d_px" not in frame:
            raise ValueError(f"{where}: expected an object with 'kp2d_px'")
        raw = frame["kp2d_px"]
        if isinstance(raw, list):  # a missing joint: null or [null, null]
            raw = [[None, None] if joint is None else joint for joint in raw]
        points = _array(raw, (NUM_JOINTS, 2), f"{where}.kp2d_px")
        points[~np.isfinite(points).all(axis=-1)] = np.nan
        if np.isnan(points).all():
            raise ValueError(f"{where}.kp2d_px: no joint is present (all null)")
        present = np.isfinite(points).all(axis=-1).astype(np.float64)
        given = frame.get("scores")
        score = present if given is None else _array(given, (NUM_JOINTS,), f"{where}.scores")
        size = frame.get("image_wh", default_wh)
        wh.append(np.full(2, np.nan) if size is None else _array(size, (2,), f"{where}.image_wh"))
        kp.append(points)
        scores.append(np.nan_to_num(score))
        source.append(str(frame.get("source", name)))
        index.append(int(frame.get("frame", i)))
    kp_arr, score_arr = np.stack(kp), np.stack(scores)
    if fmt == "coco17":
        kp_arr, score_arr = coco17_to_h36m17(kp_arr), coco17_scores_to_h36m17(score_arr)
        score_arr = np.where(np.isfinite(kp_arr).all(axis=-1), score_arr, 0.0)
    return KeypointFrames(source, np.asarray(index), kp_arr, score_arr, np.stack(wh))


def read_keypoints_json(path: str | os.PathLike[str]) -> KeypointFrames:
    """Read a 2D input JSON file; ValueError naming the file, the frame and the key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such keypoints file")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    return parse_keypoints_json(data, str(path))
