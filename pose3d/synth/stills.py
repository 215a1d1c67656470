"""Still images in the layout of the ECCV 2018 PoseTrack 3D challenge, with their labels.

Layout under the challenge root (as the real data): ``Train/IMG/%05d.jpg`` +
``Train/POSE/%05d.csv``, ``Val/IMG`` + ``Val/POSE``, ``Test/IMG``; numbering from 00001; each
CSV holds 17 rows ``x,y,z`` (H36M-17 order, camera frame, millimetres, root subtracted, six
decimals). Beside it, for evaluation and tests only (the real challenge has none of this):
``_labels/<Split>.parquet`` (`pose3d.schema.FRAMES_SCHEMA`, one row per image) and
``_labels/cameras.h5`` holding the camera of every image, keyed (subject, camera id) where the
camera id (the ``camera`` column) is unique per image.

Each image shows one frame of a (subject, action) sequence from a random viewpoint: random
distance (scale), aim (position, sometimes partly out of frame), the lab of the Human3.6M-layout
frames seen from there (as the real challenge's images are Human3.6M frames), cluttered now and
then, maybe an occluder, blur, noise and JPEG artefacts. The label is the pose behind the drawn
person.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from pose3d.camera import Camera, project, world_to_camera
from pose3d.config import GenerateConfig, to_dict
from pose3d.formats.h36m import write_cameras
from pose3d.io import write_parquet_atomic
from pose3d.schema import FRAMES_SCHEMA, array_to_column, frames_metadata
from pose3d.skeleton import NUM_JOINTS, mocap32_to_h36m17
from pose3d.synth.render import PersonView, draw_person, mask_box
from pose3d.synth.rng import rng_for
from pose3d.synth.scene import (
    degrade,
    draw_occluder,
    encode_jpeg,
    jpeg_roundtrip,
    noise_bank,
    random_occluder,
    random_shapes,
    studio_background,
)
from pose3d.synth.studio import StillRange, still_camera
from pose3d.synth.world import LABELLED_SPLITS, Progress, make_actor, no_progress, sequence_poses

LABELS_DIR = "_labels"
CSV_DECIMALS = 6  # the POSE files and the labels hold the same (rounded) pose
CLUTTER_PROBABILITY = 0.5  # a still whose lab has objects strewn about


@dataclass(frozen=True)
class Still:
    """One rendered image and its labels.

    Shapes: image (H, W, 3) uint8 BGR, box_xyxy_px (4,), kp2d_px (17, 2),
    pose3d_cam_mm (17, 3) root-relative, rounded to the CSV's decimals, root_cam_mm (3,).
    """

    image: np.ndarray
    subject: str
    action: str
    camera: Camera
    box_xyxy_px: np.ndarray
    kp2d_px: np.ndarray
    pose3d_cam_mm: np.ndarray
    root_cam_mm: np.ndarray


class PoseCache:
    """Sequences computed once and shared by the images that sample them."""

    def __init__(self, cfg: GenerateConfig, seed: int) -> None:
        self.cfg, self.seed = cfg, seed
        self._poses: dict[tuple[str, str], np.ndarray] = {}

    def get(self, subject: str, action: str) -> np.ndarray:
        key = (subject, action)
        if key not in self._poses:
            self._poses[key] = sequence_poses(self.cfg, subject, action, self.seed)
        return self._poses[key]


def camera_id(split: str, number: int) -> str:
    """The unique camera id of one challenge image, e.g. 'val00001'."""
    return f"{split.lower()}{number:05d}"


def render_still(
    cfg: GenerateConfig, seed: int, split: str, number: int, poses: PoseCache
) -> Still:
    """Render image `number` (from 1) of `split`."""
    rng = rng_for(seed, "still", split, number)
    subjects = cfg.challenge_splits[split]
    subject = subjects[int(rng.integers(len(subjects)))]
    action = cfg.actions[int(rng.integers(len(cfg.actions)))]
    sequence = poses.get(subject, action)
    pose32 = sequence[int(rng.integers(len(sequence)))]
    spec = cfg.cameras[int(rng.integers(len(cfg.cameras)))]
    reach = StillRange(
        cfg.challenge_distance_mm, cfg.challenge_offcentre, cfg.challenge_out_of_frame
    )
    size = (cfg.image_width, cfg.image_height)
    cam = still_camera(rng, spec, size, pose32, camera_id(split, number), reach)
    pts_cam = world_to_camera(pose32, cam)
    kp32 = project(pts_cam, cam)
    # the lab, as in the Human3.6M-layout frames, seen from the still's own place; now and then
    # cluttered (objects in the room): variation within the same world, not another world
    img = studio_background(rng, cam)
    if rng.uniform() < CLUTTER_PROBABILITY:
        random_shapes(rng, img, int(rng.integers(2, 12)))
    actor = make_actor(subject, seed)
    mask = draw_person(
        img,
        PersonView(kp32, pts_cam[:, 2], float(cam.f.mean()), pts_cam),
        actor.body,
        actor.palette,
    )
    box = mask_box(mask)
    if rng.uniform() < cfg.occluder_probability and np.isfinite(box).all():
        draw_occluder(img, random_occluder(rng, box))
    noise = noise_bank(rng, img.shape, float(rng.uniform(0.0, 6.0)), 1)[0]
    img = degrade(img, noise, blur=bool(rng.uniform() < 0.3))
    if rng.uniform() < 0.3:
        img = jpeg_roundtrip(img, int(rng.integers(30, 80)))
    pose17_cam = mocap32_to_h36m17(pts_cam)
    return Still(
        image=img,
        subject=subject,
        action=action,
        camera=cam,
        box_xyxy_px=box,
        kp2d_px=mocap32_to_h36m17(kp32),
        pose3d_cam_mm=np.round(pose17_cam - pose17_cam[:1], CSV_DECIMALS),
        root_cam_mm=pose17_cam[0],
    )


def pose_csv(pose3d_cam_mm: np.ndarray) -> str:
    """The challenge's POSE file: 17 rows ``x,y,z`` with six decimals. Shapes: (17, 3)."""
    if pose3d_cam_mm.shape != (NUM_JOINTS, 3):
        raise ValueError(f"expected a (17, 3) pose, got shape {pose3d_cam_mm.shape}")
    d = CSV_DECIMALS
    return "".join(f"{x:.{d}f},{y:.{d}f},{z:.{d}f}\n" for x, y, z in pose3d_cam_mm.tolist())


def labels_table(split: str, stills: list[Still]) -> pa.Table:
    """One FRAMES_SCHEMA row per image of `split` (``frame`` is the image number)."""
    n = len(stills)
    stack = lambda name: np.stack([getattr(s, name) for s in stills]) if n else None  # noqa: E731
    columns = {
        "dataset": pa.array(["challenge"] * n, pa.string()),
        "split": pa.array([split] * n, pa.string()),
        "subject": pa.array([s.subject for s in stills], pa.string()),
        "action": pa.array([s.action for s in stills], pa.string()),
        "camera": pa.array([s.camera.name for s in stills], pa.string()),
        "frame": pa.array(range(1, n + 1), pa.int32()),
        "image_path": pa.array([f"{split}/IMG/{i:05d}.jpg" for i in range(1, n + 1)], pa.string()),
        "image_width": pa.array([s.camera.width for s in stills], pa.int32()),
        "image_height": pa.array([s.camera.height for s in stills], pa.int32()),
        "box_xyxy_px": array_to_column(stack("box_xyxy_px"), n, 4),
        "kp2d_px": array_to_column(stack("kp2d_px"), n, NUM_JOINTS * 2),
        "pose3d_cam_mm": array_to_column(stack("pose3d_cam_mm"), n, NUM_JOINTS * 3),
        "root_cam_mm": array_to_column(stack("root_cam_mm"), n, 3),
    }
    return pa.table(columns, schema=FRAMES_SCHEMA)


def write_challenge(
    cfg: GenerateConfig, seed: int, root: Path, progress: Progress = no_progress
) -> dict[str, int]:
    """Write every split of the challenge layout and its labels under `root`.

    Returns the number of images per split.
    """
    poses = PoseCache(cfg, seed)
    cameras: dict[tuple[str, str], Camera] = {}
    counts: dict[str, int] = {}
    for split, n in cfg.challenge_images.items():
        (root / split / "IMG").mkdir(parents=True, exist_ok=True)
        if split in LABELLED_SPLITS:
            (root / split / "POSE").mkdir(parents=True, exist_ok=True)
        stills = []
        for number in progress(range(1, n + 1), n, f"generate challenge {split}"):
            still = render_still(cfg, seed, split, number, poses)
            (root / split / "IMG" / f"{number:05d}.jpg").write_bytes(
                encode_jpeg(still.image, cfg.jpeg_quality).tobytes()
            )
            if split in LABELLED_SPLITS:
                (root / split / "POSE" / f"{number:05d}.csv").write_text(
                    pose_csv(still.pose3d_cam_mm)
                )
            cameras[(still.subject, still.camera.name)] = still.camera
            stills.append(dataclasses.replace(still, image=np.empty((0, 0, 3), np.uint8)))
        metadata = frames_metadata(
            source={
                "generator": "pose3d.synth",
                "seed": seed,
                "split": split,
                "params": {"generate": to_dict(cfg)},
            },
            producer={"stage": "generate", "module": __name__},
        )
        write_parquet_atomic(
            labels_table(split, stills), root / LABELS_DIR / f"{split}.parquet", metadata
        )
        counts[split] = n
    if cameras:
        write_cameras(root / LABELS_DIR / "cameras.h5", cameras)
    return counts
