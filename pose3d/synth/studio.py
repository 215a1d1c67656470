"""The capture studio: calibrated cameras around the volume, and jittered cameras for stills.

Studio cameras follow `pose3d.config.CameraSpec`: placed at an azimuth, distance and height
around the volume centre and looking at it (`pose3d.camera.look_at`), with the spec's focal
length and distortion, principal point at the image centre. As in Human3.6M, each subject has
its own calibration: the same rig, re-calibrated (a few millimetres and tenths of a degree off).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d.camera import Camera, look_at, project, world_to_camera
from pose3d.config import CameraSpec
from pose3d.formats.h36m import subject_number
from pose3d.synth.body import rot_x, rot_y, rot_z
from pose3d.synth.rng import rng_for

VOLUME_CENTRE_MM = np.array([0.0, 0.0, 900.0])  # cameras look here (about pelvis height)


def studio_camera(spec: CameraSpec, width: int, height: int) -> Camera:
    """The nominal camera of `spec` for images of `width` x `height` pixels."""
    if spec.distance_mm <= 0 or spec.focal_px <= 0:
        raise ValueError(f"camera {spec.name}: distance_mm and focal_px must be positive")
    az = np.deg2rad(spec.azimuth_deg)
    eye = np.array([spec.distance_mm * np.cos(az), spec.distance_mm * np.sin(az), spec.height_mm])
    return Camera(
        name=spec.name,
        R=look_at(eye, VOLUME_CENTRE_MM),
        T=eye,
        f=np.array([spec.focal_px, spec.focal_px]),
        c=np.array([width / 2.0, height / 2.0]),
        k=np.array(spec.k),
        p=np.array(spec.p),
        width=width,
        height=height,
    )


def _small_rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    angles = rng.uniform(-max_deg, max_deg, size=3)
    return rot_z(angles[2:3])[0] @ rot_y(angles[1:2])[0] @ rot_x(angles[0:1])[0]


def subject_cameras(
    specs: tuple[CameraSpec, ...], width: int, height: int, subject: str, seed: int
) -> dict[tuple[str, str], Camera]:
    """The rig as calibrated for `subject`: {(subject, camera name): Camera}."""
    rng = rng_for(seed, "calibration", subject_number(subject))
    cams = {}
    for spec in specs:
        nominal = studio_camera(spec, width, height)
        cams[(subject, spec.name)] = Camera(
            name=spec.name,
            R=nominal.R @ _small_rotation(rng, 0.3),
            T=nominal.T + rng.uniform(-10.0, 10.0, size=3),
            f=nominal.f * rng.uniform(0.997, 1.003, size=2),
            c=nominal.c + rng.uniform(-1.0, 1.0, size=2),
            k=nominal.k,
            p=nominal.p,
            width=width,
            height=height,
        )
    return cams


# where `varied_cameras` may stand: azimuth anywhere, at these distances from the volume centre
# and heights above the floor, with the rig's focal length times a factor in this range
VARIED_DISTANCE_MM = (4200.0, 7000.0)
VARIED_HEIGHT_MM = (500.0, 2500.0)
VARIED_FOCAL = (0.9, 1.4)


def varied_cameras(
    specs: tuple[CameraSpec, ...], width: int, height: int, subject: str, seed: int
) -> dict[tuple[str, str], Camera]:
    """Cameras of the rig's names and lenses for `subject`, each at a random place (azimuth,
    distance, height, focal length; `VARIED_*`) looking near the volume centre, so that a subject
    is seen from other places than the rig's four: {(subject, camera name): Camera}."""
    rng = rng_for(seed, "varied views", subject_number(subject))
    cams = {}
    for spec in specs:
        az = rng.uniform(0.0, 2.0 * np.pi)
        dist = rng.uniform(*VARIED_DISTANCE_MM)
        eye = np.array([dist * np.cos(az), dist * np.sin(az), rng.uniform(*VARIED_HEIGHT_MM)])
        target = VOLUME_CENTRE_MM + rng.uniform([-300.0, -300.0, -200.0], [300.0, 300.0, 300.0])
        focal = spec.focal_px * rng.uniform(*VARIED_FOCAL)
        cams[(subject, spec.name)] = Camera(
            name=spec.name,
            R=look_at(eye, target),
            T=eye,
            f=np.array([focal, focal]),
            c=np.array([width / 2.0, height / 2.0]) + rng.uniform(-1.0, 1.0, size=2),
            k=np.array(spec.k),
            p=np.array(spec.p),
            width=width,
            height=height,
        )
    return cams


MAX_VIEW_DRAWS = 200  # viewpoints drawn for one still before it is refused


@dataclass(frozen=True)
class StillRange:
    """How far the camera of a still image varies (see `still_camera`)."""

    distance_mm: tuple[float, float]  # camera to pelvis distance
    offcentre: float  # largest shift of the pelvis from the image centre, fraction of half-size
    out_of_frame: float = 1.0  # share of stills whose person may reach out of the image


def still_camera(
    rng: np.random.Generator,
    spec: CameraSpec,
    size: tuple[int, int],
    pose32_world_mm: np.ndarray,
    name: str,
    rng_range: StillRange,
) -> Camera:
    """A camera with the intrinsics of `spec` at a random viewpoint of one pose.

    Random azimuth, distance and height; aimed so that the pelvis lands up to `offcentre` of
    the half image size from the centre (so at large values the person may be partly out of
    frame). Every joint stays at least 300 mm in front of the camera, and, but for an
    `out_of_frame` share of the stills, inside the image (viewpoints drawn again until it is).
    Shapes: pose32_world_mm (32, 3).
    """
    width, height = size
    pelvis = pose32_world_mm[0]
    may_leave = rng_range.out_of_frame >= 1.0 or (
        rng_range.out_of_frame > 0.0 and rng.uniform() < rng_range.out_of_frame
    )
    for _ in range(MAX_VIEW_DRAWS):
        az = rng.uniform(0.0, 2.0 * np.pi)
        dist = rng.uniform(*rng_range.distance_mm)
        eye_z = float(np.clip(pelvis[2] + rng.uniform(-300.0, 1200.0), 300.0, 3000.0))
        horiz = np.sqrt(max(dist**2 - (eye_z - pelvis[2]) ** 2, 1.0))
        eye = pelvis + np.array([horiz * np.cos(az), horiz * np.sin(az), 0.0])
        eye[2] = eye_z
        focal = spec.focal_px * rng.uniform(0.85, 1.2)
        shift = rng.uniform(-rng_range.offcentre, rng_range.offcentre, size=2)
        # aim off the pelvis so that it appears shifted by `shift` of the half image size
        R0 = look_at(eye, pelvis)
        dx, dy = shift * np.array([width, height]) / 2.0 / focal
        R = R0 @ (rot_y(np.degrees([np.arctan(dx)]))[0] @ rot_x(-np.degrees([np.arctan(dy)]))[0])
        cam = Camera(
            name=name,
            R=R,
            T=eye,
            f=np.array([focal, focal * rng.uniform(0.998, 1.002)]),
            c=np.array([width / 2.0, height / 2.0]) + rng.uniform(-2.0, 2.0, size=2),
            k=np.array(spec.k),
            p=np.array(spec.p),
            width=width,
            height=height,
        )
        pts = world_to_camera(pose32_world_mm, cam)
        if pts[:, 2].min() > 300.0 and (may_leave or in_image(project(pts, cam), size)):
            return cam
    where = "in front of the camera" if may_leave else "in front of the camera and in the image"
    raise ValueError(
        f"still_camera {name}: no viewpoint of {MAX_VIEW_DRAWS} keeps the person {where} "
        f"(distance {rng_range.distance_mm} mm, image {width}x{height})"
    )


def in_image(kp_px: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether every point lies inside an image of `size` (width, height). Shapes: (J, 2)."""
    return bool(((kp_px >= 0.0) & (kp_px <= np.asarray(size, np.float64))).all())
