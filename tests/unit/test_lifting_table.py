"""The `lifting` stage's Parquet files: a round trip, and errors that name the file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pose3d.lifting.dataset import LiftingDataset
from pose3d.lifting.mirror import flip_lr_dataset
from pose3d.lifting.table import read_lifting, write_lifting
from pose3d.skeleton import H36M17_LR_PAIRS


def _rows(n: int = 4) -> LiftingDataset:
    rng = np.random.default_rng(0)
    kp = rng.normal(500, 50, (n, 17, 2)).astype(np.float32)
    kp[1, 9] = np.nan  # a missing joint stays missing
    geometry = rng.normal(0, 1000, (n, 16))
    geometry[2] = np.nan  # a row without a camera
    return LiftingDataset(
        kp, rng.normal(0, 200, (n, 17, 3)).astype(np.float32), np.array(["S1"] * n, object),
        np.array(["Walking 1"] * n, object), np.array(["c1"] * n, object),
        np.tile([1000.0, 1002.0], (n, 1)).astype(np.float32),
        np.tile([500.0, 501.0], (n, 1)).astype(np.float32), geometry,
        frame=np.arange(n), image_path=np.array(["a.jpg", "", "b.jpg", ""], object),
    )  # fmt: skip


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    data = _rows()
    write_lifting(data, tmp_path / "train.parquet", {"keypoints": "gt"}, {"stage": "lifting"})
    back = read_lifting(tmp_path / "train.parquet")
    for name in ("kp2d_px", "pose3d_cam_mm", "image_wh_px", "principal_px", "geometry", "frame"):
        np.testing.assert_array_equal(getattr(back, name), getattr(data, name), err_msg=name)
    assert back.geometry is not None and back.geometry.dtype == np.float64  # exact
    assert list(back.image_path) == ["a.jpg", "", "b.jpg", ""]
    assert list(back.subject) == ["S1"] * 4


def test_scores_round_trip_and_default_to_which_joints_are_present(tmp_path: Path) -> None:
    data = _rows()
    scored = dataclasses.replace(
        data, scores=np.linspace(0, 1, 68, dtype=np.float32).reshape(4, 17)
    )
    write_lifting(scored, tmp_path / "a.parquet", {}, {})
    back = read_lifting(tmp_path / "a.parquet").scores
    assert back is not None
    np.testing.assert_array_equal(back, scored.scores)
    write_lifting(data, tmp_path / "b.parquet", {}, {})  # rows without scores: 1 present, 0 missing
    unknown = read_lifting(tmp_path / "b.parquet").scores
    assert unknown is not None and unknown[1, 9] == 0.0 and unknown.sum() == 4 * 17 - 1
    mirrored = flip_lr_dataset(scored).scores
    assert mirrored is not None
    for left, right in H36M17_LR_PAIRS:  # a mirrored left joint is the right one, with its score
        np.testing.assert_array_equal(mirrored[:, left], scored.scores[:, right])


def test_bad_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        read_lifting(tmp_path / "nope.parquet")
    path = tmp_path / "test.parquet"
    write_lifting(_rows(), path, {}, {})
    table = pq.read_table(path).drop_columns(["geometry"])
    pq.write_table(table, path)
    with pytest.raises(ValueError, match=r"test.parquet: schema_version|test.parquet: missing"):
        read_lifting(path)
