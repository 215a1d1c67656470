"""Speed of the `extract` stage's Human3.6M reader: frames extracted per second.

    .venv/bin/python bench/extract_speed.py                       # a tree it builds itself
    .venv/bin/python bench/extract_speed.py --h36m-root ../shared/data/h36m \\
        --subjects S1,S5,S6,S7,S8 --stride 1 --no-decode              # the real 10 Hz poses

Two modes are timed on the tree: with frame decoding (video -> JPEG; the figure that matters
when videos exist) and without (poses, projection, boxes and the Parquet only). Each mode runs
--repeats times into a fresh temporary folder; prints the median frames (rows) per second.
The self-built tree has one subject, --cameras cameras of --width x --height px and --actions
sequences of --frames 50 Hz frames, with random grey-gradient videos (mp4v).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from pose3d.camera import Camera, look_at
from pose3d.config import ExtractConfig
from pose3d.formats.h36m import poses_path, write_cameras, write_positions
from pose3d.formats.video import video_path, write_video
from tasks.extract import extract_h36m


def build_tree(root: Path, args: argparse.Namespace) -> None:
    """One subject, `args.cameras` cameras, `args.actions` sequences with videos."""
    rng = np.random.default_rng(0)
    cams = {}
    for i in range(args.cameras):
        angle = 2 * np.pi * i / args.cameras
        eye = np.array([4500 * np.cos(angle), 4500 * np.sin(angle), 1500.0])
        cams[("S1", f"{i + 1:08d}")] = Camera(
            name=f"{i + 1:08d}",
            R=look_at(eye, np.array([0.0, 0.0, 900.0])),
            T=eye,
            f=np.full(2, args.width * 1.1),
            c=np.array([args.width / 2, args.height / 2]),
            k=np.zeros(3),
            p=np.zeros(2),
            width=args.width,
            height=args.height,
        )
    write_cameras(root / "cameras.h5", cams)
    ramp = np.linspace(0, 160, args.width, dtype=np.float32)[None, :, None]
    for a in range(args.actions):
        action = f"Action {a + 1}"
        poses = rng.normal([0.0, 0.0, 900.0], [200.0, 200.0, 450.0], size=(args.frames, 32, 3))
        write_positions(poses_path(root, "S1", action), poses)
        for _, name in cams:
            frames = (
                np.broadcast_to(ramp + (i % 90), (args.height, args.width, 3)).astype(np.uint8)
                for i in range(args.frames)
            )
            write_video(video_path(root, "S1", action, name), frames, fps=50.0)


def time_extract(root: Path, cfg: ExtractConfig, repeats: int) -> tuple[float, int, int]:
    """Median seconds of `repeats` runs, rows and images written."""
    seconds = []
    rows = images = 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            summary = extract_h36m(root, cfg, out)
            seconds.append(time.perf_counter() - start)
            rows, images = summary.rows, summary.images_written
    return statistics.median(seconds), rows, images


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--h36m-root", type=Path, help="time on this tree instead")
    parser.add_argument("--subjects", default="S1", help="comma-separated (default: S1)")
    parser.add_argument("--stride", type=int, default=5, help="extract.frame_stride")
    parser.add_argument("--no-decode", action="store_true", help="time only decode_frames=false")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0, help="extract.workers (0 = cores)")
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--actions", type=int, default=2)
    parser.add_argument("--frames", type=int, default=250, help="50 Hz frames per sequence")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cfg = ExtractConfig(
        h36m_subjects=tuple(args.subjects.split(",")), cameras=(), pose_source="auto",
        frame_stride=args.stride, video_frames_per_pose=0, decode_frames=True, box_margin=0.1,
        challenge_splits=(), jpeg_quality=90, on_error="raise", workers=args.workers,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = args.h36m_root
        if root is None:
            root = Path(tmp) / "h36m"
            start = time.perf_counter()
            build_tree(root, args)
            print(
                f"built tree: 1 subject, {args.cameras} cameras x {args.actions} actions x "
                f"{args.frames} frames of {args.width}x{args.height} px "
                f"({time.perf_counter() - start:.1f} s)"
            )
        modes = [False] if args.no_decode else [True, False]
        for decode in modes:
            run_cfg = ExtractConfig(**{**cfg.__dict__, "decode_frames": decode})
            seconds, rows, images = time_extract(root, run_cfg, args.repeats)
            print(
                f"decode_frames={str(decode).lower():5}  rows={rows:7d}  images={images:6d}  "
                f"median {seconds:7.3f} s  ->  {rows / seconds:10.1f} frames/s "
                f"(median of {args.repeats}, workers={args.workers or os.cpu_count()})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
