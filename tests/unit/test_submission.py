"""pose3d.submission: the split's images paired with their 2D, the CSVs written and read back,
and every way a written folder can fail the challenge named by its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pose3d.formats.challenge import pose_path
from pose3d.frames import frames_table
from pose3d.keypoints import KeypointRows, keypoints_table
from pose3d.lifting.normalization import NormStats
from pose3d.submission import (
    MissingKeypoints,
    check_submission,
    match_split,
    training_mean_pose,
    write_poses,
)

WHERE = ("challenge.parquet", "cr.parquet")


def _poses(n: int) -> np.ndarray:
    return np.random.default_rng(1).normal(0, 300, (n, 17, 3)) + [0, 0, 4000]  # not root-relative


def test_written_poses_read_back_root_relative_with_an_exact_zero_pelvis(tmp_path: Path) -> None:
    poses = _poses(3)
    poses[1, 0] = [-0.0, -0.0, -0.0]  # would print as -0.000000
    numbers = np.array([2, 7, 10])
    write_poses(tmp_path, "Test", numbers, poses)
    check_submission(tmp_path, "Test", numbers, poses)
    assert (
        pose_path(tmp_path, "Test", 7).read_text().splitlines()[0] == "0.000000,0.000000,0.000000"
    )
    assert "-0.000000" not in pose_path(tmp_path, "Test", 7).read_text().splitlines()[0]


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda root: pose_path(root, "Test", 2).unlink(), r"2 files for 3 images \(missing \[2\]"),
        (lambda root: pose_path(root, "Test", 11).write_text("0,0,0\n" * 17), r"not images \[11\]"),
        (lambda root: pose_path(root, "Test", 7).write_text("1,0,0\n" + "0,0,0\n" * 16),
         r"00007.csv: the Pelvis \(row 1\) is \[1. 0. 0.\], not 0,0,0"),
        (lambda root: pose_path(root, "Test", 7).write_text("0,0,0\n" + "nan,0,0\n" * 16),
         "00007.csv: row 2 has a NaN"),
        (lambda root: pose_path(root, "Test", 7).write_text("0,0,0\n" * 16),
         "00007.csv: expected 17 rows"),
        (lambda root: pose_path(root, "Test", 10).write_text("0,0,0\n" * 17),
         "00010.csv: reads back .* mm off the pose written"),
    ],
)  # fmt: skip
def test_a_damaged_folder_is_refused_naming_the_file(tmp_path: Path, damage, said: str) -> None:
    poses, numbers = _poses(3), np.array([2, 7, 10])
    write_poses(tmp_path, "Test", numbers, poses)
    damage(tmp_path)
    with pytest.raises(ValueError, match=said):
        check_submission(tmp_path, "Test", numbers, poses)


def test_training_mean_pose_is_the_mean_target_with_the_root_at_zero() -> None:
    mean_3d = np.arange(48.0)
    stats = NormStats("zscore", 17, tuple(range(17)), np.zeros(34), np.ones(34), mean_3d,
                      np.full(48, 7.0))  # fmt: skip
    expected = np.vstack([[0.0, 0.0, 0.0], mean_3d.reshape(16, 3)])
    np.testing.assert_array_equal(training_mean_pose(stats), expected)


def _frames(numbers: list[int], width: int | np.ndarray = 64) -> pa.Table:
    return frames_table(dataset="challenge", split="Test", subject="", action="", camera="",
                        frame=np.array(numbers), image_width=width, image_height=48)  # fmt: skip


def _cache(split: str, numbers: list[int]) -> pa.Table:
    kp = np.arange(len(numbers) * 34, dtype=np.float32).reshape(-1, 17, 2)
    return keypoints_table(KeypointRows(
        source="infer_2d_cr", dataset="challenge", split=split, subject="", action="", camera="",
        frame=np.array(numbers), kp2d_px=kp, image_wh=(80, 60),
    ))  # fmt: skip


def test_images_are_paired_with_their_2d_and_the_table_size_wins() -> None:
    frames = _frames([3, 1, 2], width=np.array([64.0, np.nan, 64.0]))  # image 1: size unknown
    match = match_split(frames, _cache("Test", [1, 3, 8]), "Test", WHERE, disk_numbers=[1, 2, 3, 4])
    np.testing.assert_array_equal(match.number, [1, 2, 3, 4])
    np.testing.assert_array_equal(match.has_2d, [True, False, True, False])
    np.testing.assert_array_equal(match.in_table, [True, True, True, False])
    np.testing.assert_array_equal(match.kp2d_px[2, 0], [34, 35])  # cache row 1 is image 3
    np.testing.assert_array_equal(match.image_wh, [[80, 60], [64, 48], [64, 48], [np.nan] * 2])
    assert match.cache_rows_unmatched == 1  # image 8: not in the table


def test_a_cache_without_the_split_names_it_and_the_command() -> None:
    with pytest.raises(MissingKeypoints) as err:
        match_split(_frames([1, 2]), _cache("Val", [1, 2]), "Test", WHERE)
    assert str(err.value).startswith(
        "cr.parquet: no 2D for the Test split (the cache holds challenge splits ['Val']); all 2 "
        "Test images of challenge.parquet need it: add Test to infer_2d.splits in params.yaml"
    )
    with pytest.raises(MissingKeypoints, match="none of its 1 Test rows names an image"):
        match_split(_frames([1, 2]), _cache("Test", [5]), "Test", WHERE)
    with pytest.raises(
        ValueError, match=r"no challenge images of split 'Val' \(it has \['Test'\]\)"
    ):
        match_split(_frames([1]), _cache("Test", [1]), "Val", WHERE)
