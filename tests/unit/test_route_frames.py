"""`tasks.route.frames.Frames2D.content_key`: what decides whether a 2D training run resumes;
the loaded frames' facing (front or back to the camera)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pose3d.frames import frames_table, write_frames
from pose3d.skeleton import H36M17_JOINTS
from tasks.engine import array_digest
from tasks.route.frames import Frames2D, load_frames_2d


def _frames(tmp_path: Path, fill: int) -> Frames2D:
    paths = []
    for i in range(2):
        image = np.full((32, 32, 3), 40 * i, np.uint8)
        image[8:24, 8:24] = fill  # an occluder, say: the labels below stay the same
        paths.append(str(tmp_path / f"{i}.jpg"))
        assert cv2.imwrite(paths[-1], image)
    boxes = np.tile([4.0, 4.0, 28.0, 28.0], (2, 1))
    return Frames2D(
        np.array(paths), np.array(["S1", "S1"]), np.array(["", ""]), boxes,
        np.zeros((2, 17, 2)), np.tile([32, 32], (2, 1)),
    )  # fmt: skip


def test_content_key_changes_with_the_images_not_only_the_labels(tmp_path: Path) -> None:
    first = array_digest(_frames(tmp_path, fill=0).content_key())
    assert array_digest(_frames(tmp_path, fill=0).content_key()) == first  # rewritten alike
    assert array_digest(_frames(tmp_path, fill=255).content_key()) != first  # other pixels


def test_loaded_frames_say_how_much_each_person_faces_the_camera(tmp_path: Path) -> None:
    pose = np.zeros((3, 17, 3))
    thorax, lsh, rsh = (H36M17_JOINTS.index(n) for n in ("Thorax", "LShoulder", "RShoulder"))
    pose[:, thorax] = (0, -500, 0)
    pose[:, lsh], pose[:, rsh] = (200, -480, 0), (-200, -480, 0)  # facing the camera
    pose[1, [lsh, rsh], 0] *= -1  # left shoulder on the image's left: the back
    pose[2] = np.nan  # no 3D label
    table = frames_table(
        dataset="h36m", split="", subject="S8", action="Walking", camera="1",
        frame=[1, 2, 3], image_path=["a.jpg", "b.jpg", "c.jpg"], image_width=64, image_height=64,
        box_xyxy_px=np.tile([1.0, 1.0, 30.0, 60.0], (3, 1)), kp2d_px=np.zeros((3, 17, 2)),
        pose3d_cam_mm=pose, root_cam_mm=np.tile([0.0, 0.0, 5000.0], (3, 1)),
    )  # fmt: skip
    write_frames(table, tmp_path / "h36m.parquet", source={}, producer={"name": "test"})
    frames = load_frames_2d(tmp_path / "h36m.parquet")
    assert frames.facing is not None
    assert frames.facing[0] > 0.99 and frames.facing[1] < -0.99 and np.isnan(frames.facing[2])
    taken = frames.take(np.array([1]))
    assert taken.facing is not None and taken.facing[0] < -0.99
