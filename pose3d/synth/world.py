"""The synthetic world written out as a user's copies of Human3.6M and the 3D pose challenge.

- ``write_h36m``: ``cameras.h5``, ``S*/MyPoses/3D_positions/<Action>.h5`` (96, N) world mm and
  ``S*/Videos/<Action>.<camera>.mp4``, one video frame per mocap frame at ``fps``.
- ``write_challenge`` (in `pose3d.synth.stills`): ``Train|Val/IMG/%05d.jpg`` +
  ``Train|Val/POSE/%05d.csv``, ``Test/IMG``, plus the labels beside the layout in ``_labels/``.

Every subject, sequence and image has its own random stream keyed by (seed, names), so the
output does not depend on the order of work and is the same for the same seed and params.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.camera import Camera, project, world_to_camera
from pose3d.config import GenerateConfig
from pose3d.formats.h36m import poses_path, subject_number, write_cameras, write_positions
from pose3d.formats.video import video_path, write_video
from pose3d.synth.body import Body, subject_body
from pose3d.synth.motion import action_kind, make_motion, pose_sequence
from pose3d.synth.render import Colour, PersonView, draw_person, subject_palette
from pose3d.synth.rng import rng_for
from pose3d.synth.scene import (
    degrade,
    draw_occluder,
    noise_bank,
    random_occluder,
    studio_background,
)
from pose3d.synth.studio import subject_cameras, varied_cameras

Progress = Callable[[Iterable[Any], int, str], Iterable[Any]]
CHALLENGE_SPLITS: tuple[str, ...] = ("Train", "Val", "Test")
LABELLED_SPLITS: tuple[str, ...] = ("Train", "Val")  # the real challenge withholds Test poses
NOISE_BANK = 4  # noise images cycled through a video


def no_progress(items: Iterable[Any], total: int, desc: str) -> Iterable[Any]:
    return items


def _check(ok: bool, key: str, expected: str, value: object) -> None:
    if not ok:
        raise ValueError(f"generate.{key}: expected {expected}, got {value!r}")


def validate_config(cfg: GenerateConfig) -> None:
    """Reject params the generator cannot honour, naming the key (``generate.<key>``)."""
    _check(cfg.fps > 0 and cfg.seconds_per_action > 0, "fps", "fps and seconds > 0", cfg.fps)
    for key in ("image_width", "image_height"):
        value = getattr(cfg, key)
        _check(value >= 16 and value % 2 == 0, key, "an even number >= 16 (video codecs)", value)
    names = [c.name for c in cfg.cameras]
    _check(len(set(names)) == len(names) > 0, "cameras", "unique camera names", names)
    for subject in (*cfg.h36m_subjects, *(s for v in cfg.challenge_splits.values() for s in v)):
        _check(subject[:1] == "S" and subject[1:].isdigit(), "subjects", "names S<n>", subject)
    _check(len(cfg.actions) > 0, "actions", "at least one action", cfg.actions)
    for action in cfg.actions:
        try:
            action_kind(action)
        except ValueError as err:
            raise ValueError(f"generate.actions: {err}") from err
    _check(1 <= cfg.jpeg_quality <= 100, "jpeg_quality", "1..100", cfg.jpeg_quality)
    _check(len(cfg.video_codec) == 4, "video_codec", "a four-character code", cfg.video_codec)
    p_occ = cfg.occluder_probability
    _check(0.0 <= p_occ <= 1.0, "occluder_probability", "0..1", p_occ)
    _validate_challenge(cfg)
    in_stills = {s for v in cfg.challenge_splits.values() for s in v}
    for subject in cfg.varied_view_subjects:
        _check(subject in cfg.h36m_subjects, "varied_view_subjects", "h36m_subjects", subject)
        _check(subject not in in_stills, "varied_view_subjects", "no challenge subject", subject)


def _validate_challenge(cfg: GenerateConfig) -> None:
    splits = set(cfg.challenge_splits)
    _check(splits <= set(CHALLENGE_SPLITS), "challenge_splits", str(CHALLENGE_SPLITS), splits)
    counts = dict(cfg.challenge_images)
    _check(set(counts) == splits, "challenge_images", f"counts for {sorted(splits)}", counts)
    for split, n in counts.items():
        _check(0 <= n <= 99999, f"challenge_images.{split}", "0..99999 images", n)
        subjects = cfg.challenge_splits[split]
        _check(n == 0 or len(subjects) > 0, f"challenge_splits.{split}", "subjects", subjects)
    seen: dict[str, str] = {}
    for split, subjects in cfg.challenge_splits.items():
        for s in subjects:
            _check(seen.setdefault(s, split) == split, "challenge_splits", "disjoint subjects", s)
    lo, hi = cfg.challenge_distance_mm
    dist = cfg.challenge_distance_mm
    _check(1000.0 <= lo <= hi, "challenge_distance_mm", "1000 <= min <= max", dist)
    off = cfg.challenge_offcentre
    _check(0.0 <= off <= 1.5, "challenge_offcentre", "0..1.5", off)
    out = cfg.challenge_out_of_frame
    _check(0.0 <= out <= 1.0, "challenge_out_of_frame", "a share in 0..1", out)


@dataclass(frozen=True)
class Actor:
    """A subject's body and clothes."""

    body: Body
    palette: dict[str, Colour]


def make_actor(subject: str, seed: int) -> Actor:
    return Actor(subject_body(subject, seed), subject_palette(subject, seed))


def n_frames(cfg: GenerateConfig) -> int:
    """Mocap (= video) frames per sequence."""
    return max(1, int(round(cfg.seconds_per_action * cfg.fps)))


def sequence_poses(cfg: GenerateConfig, subject: str, action: str, seed: int) -> np.ndarray:
    """World joints of one sequence. Shapes: -> (N, 32, 3) world mm."""
    motion = make_motion(subject, action, n_frames(cfg), cfg.fps, seed)
    return pose_sequence(subject_body(subject, seed), motion)


def person_views(pose32_world_mm: np.ndarray, cam: Camera) -> list[PersonView]:
    """Project poses through `cam`. Shapes: (N, 32, 3) world mm -> N views."""
    pts_cam = world_to_camera(pose32_world_mm, cam)
    kp = project(pts_cam, cam)
    focal = float(cam.f.mean())
    return [PersonView(kp[i], pts_cam[i, :, 2], focal, pts_cam[i]) for i in range(len(kp))]


def _image_box(views: list[PersonView], width: int, height: int) -> np.ndarray:
    """Union box of the projected joints, clipped to the image. Shapes: -> (4,)."""
    kp = np.concatenate([v.kp32_px for v in views])
    lo = np.clip(kp.min(axis=0), 0, [width - 1, height - 1])
    hi = np.clip(kp.max(axis=0), 0, [width - 1, height - 1])
    return np.concatenate([lo, hi])


def render_sequence(
    views: list[PersonView],
    actor: Actor,
    background: np.ndarray,
    rng: np.random.Generator,
    occluder_probability: float,
) -> Iterator[np.ndarray]:
    """Video frames of one sequence from one camera: studio, person, maybe a static occluder,
    blur (some sequences) and sensor noise. Shapes: -> (H, W, 3) uint8 frames, BGR."""
    h, w = background.shape[:2]
    occluder = None
    if rng.uniform() < occluder_probability:
        occluder = random_occluder(rng, _image_box(views, w, h))
    noise = noise_bank(rng, background.shape, float(rng.uniform(1.0, 4.0)), NOISE_BANK)
    blur = bool(rng.uniform() < 0.3)
    for i, view in enumerate(views):
        img = background.copy()
        draw_person(img, view, actor.body, actor.palette)
        if occluder is not None:
            draw_occluder(img, occluder)
        yield degrade(img, noise[i % NOISE_BANK], blur)


def write_h36m(cfg: GenerateConfig, seed: int, root: Path, progress: Progress = no_progress) -> int:
    """Write the Human3.6M layout under `root`; returns the number of video frames written."""
    size = (cfg.image_width, cfg.image_height)
    cameras: dict[tuple[str, str], Camera] = {}
    for subject in cfg.h36m_subjects:
        rig = varied_cameras if subject in cfg.varied_view_subjects else subject_cameras
        cameras.update(rig(cfg.cameras, *size, subject, seed))
    if cameras:
        write_cameras(root / "cameras.h5", cameras)
    jobs = [(s, a) for s in cfg.h36m_subjects for a in cfg.actions]
    backgrounds: dict[tuple[str, str], np.ndarray] = {}
    frames = 0
    for subject, action in progress(jobs, len(jobs), "generate h36m sequences"):
        poses = sequence_poses(cfg, subject, action, seed)
        write_positions(poses_path(root, subject, action), poses)
        actor = make_actor(subject, seed)
        for spec in cfg.cameras:
            cam = cameras[(subject, spec.name)]
            if (subject, spec.name) not in backgrounds:
                bg_rng = rng_for(seed, "studio", subject_number(subject), spec.name)
                backgrounds[(subject, spec.name)] = studio_background(bg_rng, cam)
            rng = rng_for(seed, "video", subject_number(subject), action, spec.name)
            video = render_sequence(
                person_views(poses, cam),
                actor,
                backgrounds[(subject, spec.name)],
                rng,
                cfg.occluder_probability,
            )
            path = video_path(root, subject, action, spec.name)
            frames += write_video(path, video, cfg.fps, cfg.video_codec)
    return frames
