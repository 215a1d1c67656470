"""CPU speed of the 2D stage's networks under four execution settings, against the matmul rate.

    .venv/bin/python bench/conv_speed.py [--threads 2] [--repeats 5] [--batch 8]

For the CPN (ResNet-18 and ResNet-50 at 224 x 224) and SSDlite-320, at batch `--batch`:
inference images per second (eval, inference mode) and the time of one training step (forward,
loss, backward, Adam step), each the median of `--repeats` timed runs after one warm-up run, in
four settings: float32 contiguous, channels_last, bfloat16 autocast, channels_last + bfloat16
autocast. Also measured in the same process: the float32 and bfloat16 rates of a 2048 x 2048
matmul, the networks' GFLOPs per image (torch.utils.flop_counter.FlopCounterMode, 2 FLOPs per
multiply-add; training counts forward and backward), and the fraction of the matmul rate of
the setting's dtype that each setting reaches. Other processes on the machine slow every
figure (OpenMP threads that wait for a busy core spin): the "others" column is the share of the
machine's CPU time that other processes used while that row was measured (from /proc/stat).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.cpn import CPN, CPNConfig  # noqa: E402
from models.cpn_loss import cpn_loss  # noqa: E402
from models.ssd import DetectorConfig, build_detector  # noqa: E402

SETTINGS = (
    ("float32", False, False),
    ("channels_last", True, False),
    ("bf16 autocast", False, True),
    ("channels_last + bf16", True, True),
)


@dataclass
class Bench:
    """One network: how to build it, make a batch, run inference and one training step."""

    name: str
    build: Callable[[], torch.nn.Module]
    infer: Callable[[torch.nn.Module, Any], Any]
    train_loss: Callable[[torch.nn.Module, Any], torch.Tensor]
    batch: Callable[[int, bool], Any]  # (batch size, channels_last) -> inputs


def _median_s(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up: oneDNN builds its kernels for the shapes, formats and dtypes on first use
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class OtherLoad:
    """Share of all cores' time used by other processes between `start` and `share` (Linux)."""

    def __init__(self) -> None:
        self.start()

    @staticmethod
    def _busy_s() -> float:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except (OSError, ValueError):
            return math.nan
        idle = fields[3] + fields[4]  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy_s(), time.process_time()

    def share(self) -> float:
        wall = time.perf_counter() - self.t0
        others = self._busy_s() - self.busy0 - (time.process_time() - self.own0)
        return max(others, 0.0) / (wall * (os.cpu_count() or 1))


def matmul_gflops(dtype: torch.dtype, repeats: int, n: int = 2048) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    return 2 * n**3 / _median_s(lambda: a @ b, max(repeats, 5)) / 1e9


def _cpn_bench(backbone: str) -> Bench:
    cfg = CPNConfig(backbone=backbone, input_size=224)
    size, hm = cfg.input_size, cfg.heatmap_size

    def batch(n: int, channels_last: bool) -> Any:
        images = torch.randn(n, 3, size, size)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = torch.rand(n, 4, cfg.num_joints, hm, hm)
        return (
            images,
            targets,
            torch.rand(n, cfg.num_joints, hm, hm),
            torch.ones(n, 17, dtype=torch.bool),
        )

    def train_loss(model: torch.nn.Module, inputs: Any) -> torch.Tensor:
        images, global_targets, refine_targets, visible = inputs
        return cpn_loss(model(images), global_targets, refine_targets, visible, cfg.top_k)

    return Bench(
        name=f"CPN {backbone} 224",
        build=lambda: CPN(cfg),
        infer=lambda model, inputs: model(inputs[0]),
        train_loss=train_loss,
        batch=batch,
    )


def _ssd_bench() -> Bench:
    def batch(n: int, channels_last: bool) -> Any:
        images = [torch.rand(3, 320, 320) for _ in range(n)]
        box = torch.tensor([[60.0, 40.0, 200.0, 300.0]])
        return images, [{"boxes": box, "labels": torch.tensor([1])} for _ in range(n)]

    def train_loss(model: torch.nn.Module, inputs: Any) -> torch.Tensor:
        losses = model(*inputs)
        return sum(losses.values())

    return Bench(
        name="SSDlite-320",
        build=lambda: build_detector(DetectorConfig()),
        infer=lambda model, inputs: model(inputs[0]),
        train_loss=train_loss,
        batch=batch,
    )


@contextlib.contextmanager
def _setting(bf16: bool) -> Iterator[None]:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        yield


def gflops_per_image(bench: Bench, batch: int) -> tuple[float, float]:
    """(inference, training) GFLOPs per image, counted in float32."""
    torch.manual_seed(0)
    model = bench.build()
    inputs = bench.batch(batch, False)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        bench.infer(model.eval(), inputs)
    infer = counter.get_total_flops() / batch / 1e9
    with FlopCounterMode(display=False) as counter:
        bench.train_loss(model.train(), inputs).backward()
    return infer, counter.get_total_flops() / batch / 1e9


def time_setting(
    bench: Bench, batch: int, repeats: int, channels_last: bool, bf16: bool
) -> tuple[float, float]:
    """(inference images per second, training step seconds) in one setting."""
    torch.manual_seed(0)
    model = bench.build()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    inputs = bench.batch(batch, channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def infer() -> None:
        with torch.inference_mode(), _setting(bf16):
            bench.infer(model.eval(), inputs)

    def step() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        with _setting(bf16):
            loss = bench.train_loss(model, inputs)
        loss.backward()
        optimizer.step()

    return batch / _median_s(infer, repeats), _median_s(step, repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    if args.batch < 2:
        parser.error("--batch: expected >= 2 (batch norm in training needs two samples)")
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}"
    )
    load = OtherLoad()
    rates = {
        False: matmul_gflops(torch.float32, args.repeats),
        True: matmul_gflops(torch.bfloat16, args.repeats),
    }
    print(
        f"matmul 2048^3: float32 {rates[False]:.0f} GFLOP/s, bfloat16 {rates[True]:.0f} GFLOP/s "
        f"(others {100 * load.share():.0f}%)"
    )
    print(
        f"batch {args.batch}, median of {args.repeats} after one warm-up; % = achieved GFLOP/s "
        "over the matmul rate of the setting's dtype; others = CPU share of other processes\n"
    )
    print(
        "| network | GFLOPs/img infer / train | setting | infer img/s | infer % | "
        "train step s | train img/s | train % | others |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for bench in (_cpn_bench("resnet18"), _cpn_bench("resnet50"), _ssd_bench()):
        g_infer, g_train = gflops_per_image(bench, args.batch)
        for label, channels_last, bf16 in SETTINGS:
            load.start()
            ips, step_s = time_setting(bench, args.batch, args.repeats, channels_last, bf16)
            infer_pct = 100 * ips * g_infer / rates[bf16]
            train_pct = 100 * args.batch / step_s * g_train / rates[bf16]
            print(
                f"| {bench.name} | {g_infer:.2f} / {g_train:.2f} | {label} | {ips:.1f} | "
                f"{infer_pct:.0f} | {step_s:.2f} | {args.batch / step_s:.1f} | {train_pct:.0f} | "
                f"{100 * load.share():.0f}% |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
