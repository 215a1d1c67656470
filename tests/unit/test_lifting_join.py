from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from pose3d.camera import Camera
from pose3d.frames import frames_table
from pose3d.keypoints import KeypointRows, keypoints_table
from pose3d.lifting.join import Selection, lifting_from_tables, select_frames


def _frames(n: int = 4) -> pa.Table:
    pose = np.arange(n * 17 * 3, dtype=np.float32).reshape(n, 17, 3)
    pose[-1] = np.nan  # e.g. a Test image without a pose
    return frames_table(
        dataset="challenge",
        split=["Train"] * (n - 1) + ["Test"],
        subject="S1",
        action="Walking",
        camera="c0",
        frame=np.arange(n),
        image_width=320,
        image_height=240,
        pose3d_cam_mm=pose,
        root_cam_mm=np.tile([10.0, 20.0, 4000.0], (n, 1)),
    )


def _camera() -> Camera:
    return Camera(
        "c0", R=np.eye(3), T=np.array([0.0, 0.0, 1500.0]), f=[500.0, 501.0], c=[150.0, 110.0],
        k=[0.1, 0.0, 0.0], p=[0.0, 0.01], width=320, height=240,
    )  # fmt: skip


def _keypoints(frames: list[int]) -> pa.Table:
    kp = np.random.default_rng(0).uniform(0, 100, (len(frames), 17, 2)).astype(np.float32)
    rows = KeypointRows(
        source="gt", dataset="challenge", split="Train", subject="S1", action="Walking",
        camera="c0", frame=np.array(frames), kp2d_px=kp, image_wh=(320, 240),
    )  # fmt: skip
    return keypoints_table(rows)


def test_join_pairs_rows_by_identity_and_counts_unmatched() -> None:
    frames = select_frames(_frames(), Selection("challenge", ("Train",)), "test")
    assert frames.num_rows == 3
    keypoints = _keypoints([2, 0])  # frame 1 has no keypoints; order differs from the frames
    data, unmatched = lifting_from_tables(frames, keypoints, {("S1", "c0"): _camera()})
    assert unmatched == 1
    assert len(data) == 2
    np.testing.assert_array_equal(data.pose3d_cam_mm[0, 0], [0, 1, 2])  # frame 0 first
    np.testing.assert_allclose(data.pose3d_cam_mm[1, 0], [102, 103, 104])  # frame 2
    kp = keypoints.take(pa.array([1])).column("kp2d_px").combine_chunks().flatten().to_numpy()
    np.testing.assert_array_equal(data.kp2d_px[0].reshape(-1), kp)
    np.testing.assert_array_equal(data.principal_px, [[150, 110], [150, 110]])
    np.testing.assert_array_equal(data.image_wh_px[0], [320, 240])
    assert data.geometry is not None  # root, world up (z) in this camera's frame, intrinsics,
    np.testing.assert_allclose(  # and the camera's height above the floor (its T's z)
        data.geometry[0], [10, 20, 4000, 0, 0, 1, 500, 501, 150, 110, 0.1, 0, 0, 0, 0.01, 1500]
    )


def test_principal_point_defaults_to_the_image_centre() -> None:
    frames = select_frames(_frames(), Selection("challenge", ("Train",)), "test")
    data, _ = lifting_from_tables(frames, _keypoints([0]))
    np.testing.assert_array_equal(data.principal_px, [[160, 120]])
    assert data.geometry is not None and np.isnan(data.geometry).all()  # no camera: no geometry


def test_selection_errors_name_what_was_asked() -> None:
    with pytest.raises(
        ValueError, match=r"no challenge rows for split \['Val'\] \(found \['Test', 'Train'\]\)"
    ):
        select_frames(_frames(), Selection("challenge", ("Val",)), "frames.parquet")
    with pytest.raises(ValueError, match="have no 3D poses"):
        select_frames(_frames(), Selection("challenge", ("Test",)), "frames.parquet")
    with pytest.raises(ValueError, match="selects nothing"):
        Selection("h36m", ())
    with pytest.raises(ValueError, match="expected one of"):
        Selection("coco", ("a",))
