"""Speed of the 2D half at inference on this CPU, against the matmul rate and a reference model.

    .venv/bin/python bench/infer_speed.py [--images 96] [--threads 2] [--repeats 3]

On `--images` challenge images of ``data/extract/challenge.parquet`` (run ``dvc repro extract``
first), in one process, for the default sizes (params.yaml: SSDlite at its `image_size`, the CPN
at its input size and channels) and the paper's (params/paper2d.yaml: SSD300-VGG16, CPN
ResNet-50 at 224 with 256 channels), with randomly initialised weights (speed does not depend on
them):
- each network alone: images per second (median of `--repeats` passes over the images after
  one warm-up pass), GFLOPs per image (torch.utils.flop_counter, 2 FLOPs per multiply-add) and
  the fraction of this machine's matmul rate reached (float32 for the detector, bfloat16 for the
  CPN under bfloat16 autocast; both rates measured in the same run);
- the whole `infer_2d` path (`tasks.infer_2d.run_shard`: decode, detect, CR, CPN with the flip
  test, ICR, for both variants) and the share of its wall time spent outside the two networks;
- torchvision's ``keypointrcnn_resnet50_fpn`` (weights=None, weights_backbone=None) on the same
  images, as the reference for a top-down image-to-keypoints model.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from conv_speed import OtherLoad, _median_s, matmul_gflops  # noqa: E402
from torchvision.models.detection import keypointrcnn_resnet50_fpn  # noqa: E402

from models.cpn import CPN  # noqa: E402
from pose3d.config import load_params, to_dict  # noqa: E402
from tasks.infer_2d import ShardSpec, load_challenge_images, run_shard  # noqa: E402
from tasks.route.cpn import LoadedCPN, predict_crops  # noqa: E402
from tasks.route.detector import (  # noqa: E402
    LoadedDetector,
    detect,
    detect_person_boxes,
    prepare,
    sized_detector,
)
from tasks.route.frames import read_rgb  # noqa: E402
from tasks.route.images import Networks as InferNetworks  # noqa: E402
from tasks.train_cpn import cpn_config  # noqa: E402
from tasks.train_detector import detector_config  # noqa: E402


def _gflops(fn: Callable[[], Any], n: int) -> float:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        fn()
    return counter.get_total_flops() / n / 1e9


@dataclasses.dataclass
class Setup:
    name: str
    detector: LoadedDetector
    cpn: LoadedCPN


def setup(params_file: str, name: str) -> Setup:
    params = load_params(ROOT / params_file)
    torch.manual_seed(0)
    det_cfg = params.train_detector
    model = sized_detector(detector_config(det_cfg), det_cfg.image_size)
    prepare(model, torch.device("cpu"), det_cfg.channels_last).eval()
    detector = LoadedDetector(model, detector_config(det_cfg), det_cfg.image_size,
                              det_cfg.channels_last, torch.device("cpu"))  # fmt: skip
    c = params.train_cpn
    net = CPN(cpn_config(c)).eval()
    if c.channels_last:
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    cpn = LoadedCPN(net, cpn_config(c), params.cr.margin, c.flip_test, c.bf16, c.channels_last)
    return Setup(name, detector, cpn)


def _row(name: str, rate: float, gflops: float, peak: float, note: str = "") -> str:
    return f"| {name} | {rate:.1f} | {gflops:.2f} | {100 * gflops * rate / peak:.0f}% | {note} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--extract", default=str(ROOT / "data" / "extract"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = OtherLoad()
    peak32 = matmul_gflops(torch.float32, args.repeats)
    peak16 = matmul_gflops(torch.bfloat16, args.repeats)
    images_meta = load_challenge_images(args.extract, ["Val"])
    paths = list(images_meta.image_path[: args.images])
    images = [read_rgb(p) for p in paths]
    n = len(images)
    print(f"torch {torch.__version__}, {args.threads} threads, {n} challenge Val images "
          f"{images[0].shape[1]}x{images[0].shape[0]}")  # fmt: skip
    print(f"matmul 2048^3: float32 {peak32:.0f} GFLOP/s, bfloat16 {peak16:.0f} GFLOP/s")
    print(
        "\n| network | images/s | GFLOPs/image | of matmul rate | note |\n|---|---:|---:|---:|---|"
    )
    for params_file, label in (("params.yaml", "default"), ("params/paper2d.yaml", "paper")):
        s = setup(params_file, label)
        side = s.detector.image_size or (300 if "300" in s.detector.config.arch else 320)
        det_s = _median_s(lambda: detect(s.detector, images), args.repeats)  # noqa: B023
        det_g = _gflops(lambda: detect(s.detector, images[:4]), 4)  # noqa: B023
        print(_row(f"{label}: {s.detector.config.arch} @ {side}", n / det_s, det_g, peak32,
                   "float32, channels_last" if s.detector.channels_last else "float32"))  # fmt: skip
        size = s.cpn.input_size
        crops = np.stack([np.ascontiguousarray(im[:size, :size]) for im in images])
        passes = 2 if s.cpn.flip_test else 1
        cpn_s = _median_s(lambda: predict_crops(s.cpn, crops), args.repeats)  # noqa: B023
        cpn_g = _gflops(lambda: predict_crops(s.cpn, crops[:4], flip_test=False), 4) * passes  # noqa: B023
        peak = peak16 if s.cpn.bf16 else peak32
        print(_row(f"{label}: CPN {s.cpn.config.backbone} @ {size}, {s.cpn.config.channels} ch",
                   n / cpn_s, cpn_g, peak, f"{'bf16 autocast, ' if s.cpn.bf16 else ''}"
                   f"{'flip test (2 passes)' if s.cpn.flip_test else ''}"))  # fmt: skip
        nets = InferNetworks(
            detect=functools.partial(detect_person_boxes, s.detector),
            keypoints=functools.partial(predict_crops, s.cpn),
            input_size=size,
            keypoint_square=s.cpn.keypoint_square,
        )
        cfg = to_dict(load_params(ROOT / params_file).infer_2d)
        with tempfile.TemporaryDirectory() as tmp:
            spec = ShardSpec(0, tuple(paths), str(Path(tmp) / "s.npz"), "", "", cfg,
                             s.cpn.margin, "cpu", 0)  # fmt: skip
            run_shard(dataclasses.replace(spec, out_file=str(Path(tmp) / "warm.npz")), nets)
            t0 = time.perf_counter()
            summary = run_shard(spec, nets)
            wall = time.perf_counter() - t0
        timer = summary["timer"]
        outside = 1 - (timer["detect"] + timer["cpn"]) / wall
        print(
            f"| {label}: infer_2d path (cr + full) | {n / wall:.1f} | | | "
            f"{100 * outside:.0f}% of wall time outside the two networks |"
        )
    model = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
    tensors = [torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images]

    def kprcnn() -> None:
        with torch.inference_mode():
            for k in range(0, n, 8):
                model(tensors[k : k + 8])

    kp_s = _median_s(kprcnn, max(1, args.repeats - 2))
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(tensors[:2])
    kp_g = counter.get_total_flops() / 2 / 1e9
    print(_row("reference: keypointrcnn_resnet50_fpn (800 px short side)", n / kp_s, kp_g, peak32,
               "float32"))  # fmt: skip
    print(f"\nother processes used {100 * load.share():.0f}% of the CPU during the run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
