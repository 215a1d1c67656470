from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np
import pytest
from tiny_configs import tiny_generate_config

from pose3d.camera import project
from pose3d.formats.h36m import read_cameras
from pose3d.io import read_parquet_validated
from pose3d.schema import FRAMES_SCHEMA, FRAMES_SCHEMA_VERSION, column_to_array
from pose3d.synth import stills
from pose3d.synth.stills import PoseCache, pose_csv, render_still, write_challenge
from pose3d.synth.world import validate_config


@pytest.fixture(scope="module")
def challenge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("challenge")
    write_challenge(tiny_generate_config(), 0, root)
    return root


def _labels(root: Path, split: str) -> dict[str, np.ndarray]:
    table = read_parquet_validated(
        root / "_labels" / f"{split}.parquet", FRAMES_SCHEMA, FRAMES_SCHEMA_VERSION
    )
    shapes = {
        "box_xyxy_px": (4,),
        "kp2d_px": (17, 2),
        "pose3d_cam_mm": (17, 3),
        "root_cam_mm": (3,),
    }
    out = {k: column_to_array(table[k], s) for k, s in shapes.items()}
    for k in ("subject", "camera", "image_path", "frame", "dataset", "split"):
        out[k] = np.array(table[k].to_pylist())
    return out


def test_pose_csv_equals_the_labels(challenge: Path) -> None:
    for split in ("Train", "Val"):
        labels = _labels(challenge, split)
        for i, number in enumerate(labels["frame"]):
            text = (challenge / split / "POSE" / f"{number:05d}.csv").read_text()
            rows = [line.split(",") for line in text.splitlines()]
            assert len(rows) == 17 and all(
                len(r) == 3 and len(r[0].split(".")[1]) == 6 for r in rows
            )
            csv = np.array(rows, dtype=np.float64).astype(np.float32)
            np.testing.assert_array_equal(csv, labels["pose3d_cam_mm"][i])
            np.testing.assert_array_equal(csv[0], [0.0, 0.0, 0.0])  # root-relative


def test_labels_reproject_through_the_stored_cameras(challenge: Path) -> None:
    cameras = read_cameras(challenge / "_labels" / "cameras.h5")
    for split in ("Train", "Val", "Test"):
        labels = _labels(challenge, split)
        assert list(labels["image_path"]) == [f"{split}/IMG/{n:05d}.jpg" for n in range(1, 6)]
        assert set(labels["dataset"]) == {"challenge"} and set(labels["split"]) == {split}
        for i in range(5):
            cam = cameras[(str(labels["subject"][i]), str(labels["camera"][i]))]
            pose_cam = labels["pose3d_cam_mm"][i].astype(np.float64) + labels["root_cam_mm"][i]
            np.testing.assert_allclose(project(pose_cam, cam), labels["kp2d_px"][i], atol=1e-3)
            # the tight box of the drawn person holds every joint that is inside the image
            x1, y1, x2, y2 = labels["box_xyxy_px"][i]
            assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
            kp = labels["kp2d_px"][i]
            inside = (kp >= 0).all(axis=1) & (kp[:, 0] < 64) & (kp[:, 1] < 64)
            assert ((kp[inside, 0] >= x1 - 1) & (kp[inside, 0] <= x2 + 1)).all()
            assert ((kp[inside, 1] >= y1 - 1) & (kp[inside, 1] <= y2 + 1)).all()
            img = cv2.imread(str(challenge / labels["image_path"][i]))
            assert img.shape == (64, 64, 3)


def test_subject_of_each_image_comes_from_its_split(challenge: Path) -> None:
    assert set(_labels(challenge, "Train")["subject"]) == {"S1"}
    assert set(_labels(challenge, "Val")["subject"]) == {"S9"}
    assert set(_labels(challenge, "Test")["subject"]) == {"S11"}
    assert not (challenge / "Test" / "POSE").exists()


def test_render_still_is_deterministic() -> None:
    cfg = tiny_generate_config()
    a = render_still(cfg, 0, "Val", 3, PoseCache(cfg, 0))
    b = render_still(cfg, 0, "Val", 3, PoseCache(cfg, 0))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.pose3d_cam_mm, b.pose3d_cam_mm)
    c = render_still(cfg, 1, "Val", 3, PoseCache(cfg, 1))
    assert not np.array_equal(a.pose3d_cam_mm, c.pose3d_cam_mm)


def test_pose_csv_format() -> None:
    pose = np.zeros((17, 3), np.float32)
    pose[1] = [1.5, -2.25, 1000.125]
    text = pose_csv(pose)
    assert text.splitlines()[0] == "0.000000,0.000000,0.000000"
    assert text.splitlines()[1] == "1.500000,-2.250000,1000.125000"
    with pytest.raises(ValueError, match=r"\(17, 3\)"):
        pose_csv(np.zeros((16, 3)))


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"image_width": 63}, "generate.image_width"),
        ({"actions": ("Dancing",)}, "Dancing"),
        (
            {
                "challenge_splits": MappingProxyType(
                    {"Train": ("S1",), "Val": ("S1",), "Test": ("S11",)}
                )
            },
            "disjoint",
        ),
        ({"challenge_splits": MappingProxyType({"Dev": ("S1",)})}, "generate.challenge_splits"),
        ({"challenge_images": MappingProxyType({"Train": 5})}, "generate.challenge_images"),
        ({"h36m_subjects": ("P1",)}, "generate.subjects"),
        ({"occluder_probability": 1.5}, "generate.occluder_probability"),
        ({"challenge_distance_mm": (5000.0, 3000.0)}, "generate.challenge_distance_mm"),
        ({"challenge_out_of_frame": 1.5}, "generate.challenge_out_of_frame"),
        ({"varied_view_subjects": ("S7",)}, "generate.varied_view_subjects.*h36m_subjects"),
        ({"varied_view_subjects": ("S1",)}, "generate.varied_view_subjects.*challenge"),
    ],
)
def test_bad_config_is_named(changes: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        validate_config(tiny_generate_config(**changes))


def test_a_still_is_the_lab_seen_from_its_own_camera(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the real challenge's images are Human3.6M frames: the stills' background is the
    studio of the Human3.6M-layout frames, seen through the still's camera."""
    seen = []
    real = stills.studio_background

    def spy(rng: np.random.Generator, cam: object) -> np.ndarray:
        seen.append(cam)
        return real(rng, cam)

    monkeypatch.setattr(stills, "studio_background", spy)
    cfg = tiny_generate_config()
    still = render_still(cfg, 0, "Val", 3, PoseCache(cfg, 0))
    assert seen == [still.camera]
