"""Tiny synthetic-world params shared by the generate tests (imported as `tiny_configs`)."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from pose3d.config import CameraSpec, GenerateConfig


def tiny_generate_config(**changes: object) -> GenerateConfig:
    """2 subjects, 2 actions, 2 cameras, 0.2 s, 64x64 images, 5 challenge images per split."""
    cfg = GenerateConfig(
        h36m_subjects=("S1", "S5"),
        actions=("Walking", "Bending"),
        fps=50.0,
        seconds_per_action=0.2,
        image_width=64,
        image_height=64,
        cameras=(
            CameraSpec("10000001", 45.0, 5000.0, 1500.0, 75.0, (-0.2, 0.24, 0.0), (-0.001, 0.001)),
            CameraSpec("10000002", 225.0, 5000.0, 1600.0, 76.0, (-0.19, 0.2, 0.0), (0.002, 0.0)),
        ),
        challenge_splits=MappingProxyType({"Train": ("S1",), "Val": ("S9",), "Test": ("S11",)}),
        challenge_images=MappingProxyType({"Train": 5, "Val": 5, "Test": 5}),
        challenge_distance_mm=(2500.0, 8000.0),
        challenge_offcentre=0.6,
        challenge_out_of_frame=1.0,
        occluder_probability=0.25,
        jpeg_quality=90,
        video_codec="mp4v",
    )
    return dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]
