"""The `generate` stage's work: write the embedded synthetic world as Human3.6M + challenge data.

    python -m flows.generate [--params params.yaml] [--set generate.seconds_per_action=0.5]

Output under ``paths.generate``: ``h36m/`` (the 3d-pose-baseline layout plus videos),
``challenge/`` (the ECCV 2018 challenge layout plus ``_labels/``) and ``summary.json``. Each
tree is written to a temporary folder and renamed into place, so a crash leaves no half dataset.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pose3d.config import GenerateConfig
from pose3d.io import atomic_dir, write_json_atomic
from pose3d.synth.stills import write_challenge
from pose3d.synth.world import n_frames, validate_config, write_h36m
from tasks._prefect import logger, progress, stage_task


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate` wrote."""

    h36m_root: str
    challenge_root: str
    subjects: int  # subjects of the Human3.6M tree
    sequences: int  # (subject, action) pose files
    frames_per_sequence: int
    video_frames: int  # over all videos
    challenge_images: dict[str, int] = field(default_factory=dict)  # per split


def generate(cfg: GenerateConfig, seed: int, out_dir: Path) -> GenerateSummary:
    """Write ``out_dir/h36m``, ``out_dir/challenge`` and ``out_dir/summary.json``."""
    validate_config(cfg)
    out_dir = Path(out_dir)
    log = logger()
    start = time.perf_counter()
    with atomic_dir(out_dir / "h36m") as tmp:
        video_frames = write_h36m(cfg, seed, tmp, progress)
    log.info("generate: wrote %s (%d video frames)", out_dir / "h36m", video_frames)
    with atomic_dir(out_dir / "challenge") as tmp:
        counts = write_challenge(cfg, seed, tmp, progress)
    log.info("generate: wrote %s (%s images)", out_dir / "challenge", counts)
    seconds = round(time.perf_counter() - start, 3)
    summary = GenerateSummary(
        h36m_root=str(out_dir / "h36m"),
        challenge_root=str(out_dir / "challenge"),
        subjects=len(cfg.h36m_subjects),
        sequences=len(cfg.h36m_subjects) * len(cfg.actions),
        frames_per_sequence=n_frames(cfg),
        video_frames=video_frames,
        challenge_images=counts,
    )
    # no wall time in the file: one seed gives the same bytes in every file, so a clone that
    # regenerates the world finds every stage after it up to date
    write_json_atomic(out_dir / "summary.json", asdict(summary))
    log.info("generate: %.1f s", seconds)
    return summary


generate_task = stage_task(generate)
