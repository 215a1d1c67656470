"""Rendering speed of the synthetic world and the wall time of the default `generate` stage.

    .venv/bin/python bench/render_speed.py [--params params.yaml] [--repeats 5] [--full]

Prints video frames and still images rendered per second (median of `--repeats` runs, one
process, no encoding for video frames; stills include background, drawing and degradation),
then the `generate` wall time for the params: measured by running the whole stage into a
temporary folder with `--full`, else extrapolated from the measured rates plus encoding.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pose3d.config import GenerateConfig, load_params  # noqa: E402
from pose3d.synth.rng import rng_for  # noqa: E402
from pose3d.synth.scene import encode_jpeg, studio_background  # noqa: E402
from pose3d.synth.stills import PoseCache, render_still  # noqa: E402
from pose3d.synth.studio import subject_cameras  # noqa: E402
from pose3d.synth.world import make_actor, n_frames, person_views, render_sequence, sequence_poses  # noqa: E402


def video_rate(cfg: GenerateConfig, seed: int) -> float:
    """Video frames per second (one sequence from one camera, frames not encoded)."""
    subject, action, spec = cfg.h36m_subjects[0], cfg.actions[0], cfg.cameras[0]
    cam = subject_cameras(cfg.cameras, cfg.image_width, cfg.image_height, subject, seed)[
        (subject, spec.name)
    ]
    poses = sequence_poses(cfg, subject, action, seed)
    background = studio_background(rng_for(seed, "bench"), cam)
    start = time.perf_counter()
    frames = list(
        render_sequence(
            person_views(poses, cam),
            make_actor(subject, seed),
            background,
            rng_for(seed, "b"),
            0.25,
        )
    )
    return len(frames) / (time.perf_counter() - start)


def still_rate(cfg: GenerateConfig, seed: int, count: int = 100) -> float:
    """Challenge images per second (rendering, degradation and JPEG encoding)."""
    split = next(iter(cfg.challenge_splits))
    poses = PoseCache(cfg, seed)
    render_still(cfg, seed, split, 1, poses)  # fill the pose cache for one sequence
    start = time.perf_counter()
    for number in range(1, count + 1):
        encode_jpeg(render_still(cfg, seed, split, number, poses).image, cfg.jpeg_quality)
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="run the whole default stage")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    cfg, seed = params.generate, params.seed
    videos = statistics.median(video_rate(cfg, seed) for _ in range(args.repeats))
    stills = statistics.median(still_rate(cfg, seed) for _ in range(args.repeats))
    size = f"{cfg.image_width}x{cfg.image_height}"
    print(f"video frames rendered per second ({size}, no encoding): {videos:.0f}")
    print(f"still images rendered per second ({size}, with JPEG encoding): {stills:.0f}")
    n_video = len(cfg.h36m_subjects) * len(cfg.actions) * len(cfg.cameras) * n_frames(cfg)
    n_still = sum(cfg.challenge_images.values())
    if args.full:
        from tasks.generate import generate

        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            generate(cfg, seed, Path(tmp))
            wall = time.perf_counter() - start
        print(
            f"generate wall time (measured, {n_video} video frames + {n_still} stills): {wall:.1f} s"
        )
    else:
        encode_s = 0.4e-3 * n_video  # mp4v at 320x320: ~0.4 ms a frame on one core
        wall = n_video / videos + n_still / stills + encode_s
        print(
            f"generate wall time (extrapolated from the rates above, not measured; "
            f"{n_video} video frames + {n_still} stills): {wall:.0f} s; --full measures it"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
