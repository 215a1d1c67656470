"""The `infer_2d` stage: the paper's 2D half over the challenge images, into keypoint caches.

For every image of ``infer_2d.splits`` (rows of ``extract``'s ``challenge.parquet``): decode it
(`pose3d.images`: grey, 16-bit and 4-channel images converted), then per variant (the route
itself is `tasks.route.images`, which `pose3d predict` shares)
- ``cr``: detect (`tasks.route.detector`); crop the square around each of the
  ``infer_2d.person_candidates`` best person boxes (`pose3d.crop`, side = longest box side x
  (1 + ``cr.margin``)) to the CPN's input, run the CPN (`tasks.route.cpn`), map its keypoints
  back to the image (ICR), and keep the box the CPN and the detector find likeliest
  (`tasks.route.images.route_keypoints`); then ``infer_2d.refine_passes``
  times draw the square again around those keypoints, as the CPN's training boxes sat around
  theirs, and run the CPN on it (the cache's box stays the detector's). No box scoring at least
  ``infer_2d.min_person_score``: the fallback is the whole image, as in ``full``, and the row's
  box is null in the cache (the flag);
- ``full`` (the paper's "w.o. CR"): the whole image, letterboxed into the square that holds it,
  resized to the CPN's input, no detector;
- ``gt_box`` (the error budget's middle step: the CPN's own error, without the detector's): as
  ``cr``, around the frames table's label box (``box_xyxy_px``) instead of the detector's best
  box; the cache's box is the label box. Images without a usable label box (every image of the
  real challenge, whose table has none) are left out of ``gt_box.parquet``, counted
  (``gt_box_no_label_box``) and said once in the log; the cache is written all the same, empty
  where no image has one (the `lifting` stage then goes without the variant).

Work is split into shards of ``infer_2d.shard_size`` images, each computed on its own (the same
output whatever runs it: one process or Dask workers) and saved atomically under a work folder
keyed by everything that decides its content, so an interrupted run resumes at the first
missing shard. At the end the shards are merged into ``<variant>.parquet`` (the schema of
`pose3d.keypoints`, with the producer: code digest, the digests of the two networks' weights,
the params),
``metrics.json`` (counts, speed, and the 2D error against label keypoints where the table has
them) and ``report.json`` (every image that could not be read, by name and reason, and every
image where no person was found). One bad image never stops the run.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.config import CRConfig, Infer2DConfig, to_dict
from pose3d.frames import frames_arrays, read_frames
from pose3d.io import atomic_path, staged_files, work_root, write_json_atomic, write_metrics
from pose3d.keypoints import KeypointRows, Producer, keypoints_table, write_keypoints
from pose3d.metrics import (
    box_iou,
    keypoint_distances,
    left_right_ratio,
    pck,
    person_height,
    swap_share,
)
from pose3d.skeleton import NUM_JOINTS
from tasks._prefect import logger, progress
from tasks.provenance import code_digest
from tasks.route.images import (
    Networks,
    Timer,
    decode_image,
    has_box,
    infer_images,
    infer_label_boxes,
    load_networks,
    weights_digest,
)

IDENTITY = ("dataset", "split", "subject", "action", "camera")
HEADLINE = ("cr_kp2d_error_px", "full_kp2d_error_px", "cr_left_right_ratio", "cr_swap_share",
            "cr_no_person", "cr_box_iou50")  # metrics.json  # fmt: skip
SOURCE = {"cr": "infer_2d_cr", "full": "infer_2d_full", "gt_box": "infer_2d_gt_box"}


@dataclass
class VariantOut:
    """One shard's result for one variant. Shapes: rows (M,) row indices of the shard; kp2d_px
    (M, 17, 2); scores (M, 17); box_xyxy_px (M, 4), NaN = no box (whole image used)."""

    rows: list[int] = field(default_factory=list)
    kp2d_px: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    box_xyxy_px: list[np.ndarray] = field(default_factory=list)
    person_score: list[float] = field(default_factory=list)
    image_wh: list[tuple[int, int]] = field(default_factory=list)  # as decoded


def decoded_batches(
    paths: Sequence[str], batch_size: int, workers: int, max_pixels: int
) -> Iterator[tuple[list[int], list[np.ndarray | str]]]:
    """Batches of (indices, image or error) in order; with `workers` > 0 threads decode ahead
    while the networks run (OpenCV's decoder releases the GIL)."""
    starts = range(0, len(paths), batch_size)
    decode = functools.partial(decode_image, max_pixels=max_pixels)
    if workers == 0:
        for s in starts:
            idx = list(range(s, min(s + batch_size, len(paths))))
            yield idx, [decode(paths[i]) for i in idx]
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.map(decode, paths[s : s + batch_size]) for s in starts[:2]]
        for k, s in enumerate(starts):
            idx = list(range(s, min(s + batch_size, len(paths))))
            results = list(pending[k])
            if k + 2 < len(starts):
                t = starts[k + 2]
                pending.append(pool.map(decode, paths[t : t + batch_size]))
            yield idx, results


# On the CPU every shard computes on one torch thread, whichever runner runs it (shards run side
# by side instead, one per core): a convolution's sums are split by thread count, so with more
# threads a few heatmap peaks tip to the next cell (up to 6.6 px seen). One thread each makes the
# caches the same bytes whatever the runner and worker count.
CPU_THREADS_PER_SHARD = 1


@dataclass(frozen=True)
class ShardSpec:
    """One shard: what to read, what to run, where to save it."""

    index: int
    paths: tuple[str, ...]
    out_file: str
    detector: str  # checkpoint paths
    cpn: str
    cfg: dict[str, Any]  # Infer2DConfig as a dict
    margin: float
    device: str
    torch_threads: int  # 0: leave torch's setting
    label_boxes: tuple[tuple[float, ...], ...] = ()  # per path, xyxy px, NaN: none; () = none

    def boxes_xyxy_px(self) -> np.ndarray:
        """The label box of each path (N, 4), NaN where there is none."""
        if not self.label_boxes:
            return np.full((len(self.paths), 4), np.nan)
        return np.asarray(self.label_boxes, dtype=np.float64).reshape(len(self.paths), 4)


# one batch's results: variant -> (rows of the shard, kp2d_px, scores, box_xyxy_px, person score)
BatchOut = dict[str, tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def infer_batch(
    good: list[tuple[int, np.ndarray]], spec: ShardSpec, nets: Networks, timer: Timer
) -> BatchOut:
    """Every variant of `spec` on the decoded (row, image) pairs `good`; ``gt_box`` on the rows
    whose label box is usable only."""
    variants = tuple(spec.cfg["variants"])
    rows, images = [i for i, _ in good], [im for _, im in good]
    route = tuple(v for v in variants if v != "gt_box")
    found = infer_images(images, nets, route, spec.cfg["min_person_score"], spec.margin, timer,
                         spec.cfg["refine_passes"], spec.cfg["person_candidates"])  # fmt: skip
    out: BatchOut = {v: (rows, *result) for v, result in found.items()}
    if "gt_box" in variants:
        boxes = spec.boxes_xyxy_px()[rows]
        pick = np.flatnonzero(has_box(boxes))
        result = infer_label_boxes([images[k] for k in pick], boxes[pick], nets, spec.margin,
                                   timer)  # fmt: skip
        out["gt_box"] = ([rows[k] for k in pick], *result)
    return out


def run_shard(spec: ShardSpec, nets: Networks | None = None) -> dict[str, Any]:
    """Compute one shard (unless its file exists) and save it atomically; returns its summary.
    `nets` defaults to the checkpoints of `spec`."""
    out_file = Path(spec.out_file)
    if out_file.is_file():
        return {"index": spec.index, "resumed": True}
    if spec.torch_threads:
        import torch

        torch.set_num_threads(spec.torch_threads)
    cfg = spec.cfg
    variants = tuple(cfg["variants"])
    if nets is None:
        nets = load_networks(spec.detector, spec.cpn, spec.device, "cr" in variants)
    timer = Timer()
    outs = {v: VariantOut() for v in variants}
    errors: dict[int, str] = {}
    t0 = time.perf_counter()
    batches = decoded_batches(spec.paths, cfg["batch_size"], cfg["loader_workers"],
                              cfg["max_pixels"])  # fmt: skip
    for idx, decoded in batches:
        good = [(i, im) for i, im in zip(idx, decoded, strict=True) if not isinstance(im, str)]
        errors.update({i: im for i, im in zip(idx, decoded, strict=True) if isinstance(im, str)})
        if not good:
            continue
        sizes = {i: (im.shape[1], im.shape[0]) for i, im in good}
        for v, (rows, kp, scores, boxes, person) in infer_batch(good, spec, nets, timer).items():
            outs[v].rows += rows
            outs[v].kp2d_px += list(kp)
            outs[v].scores += list(scores)
            outs[v].box_xyxy_px += list(boxes)
            outs[v].person_score += list(person)
            outs[v].image_wh += [sizes[i] for i in rows]
    timer.total = time.perf_counter() - t0
    arrays: dict[str, np.ndarray] = {}
    for v, o in outs.items():
        n = len(o.rows)
        arrays[f"{v}/rows"] = np.asarray(o.rows, dtype=np.int64)
        arrays[f"{v}/kp2d_px"] = np.asarray(o.kp2d_px, np.float64).reshape(n, NUM_JOINTS, 2)
        arrays[f"{v}/scores"] = np.asarray(o.scores, np.float64).reshape(n, NUM_JOINTS)
        arrays[f"{v}/box_xyxy_px"] = np.asarray(o.box_xyxy_px, np.float64).reshape(n, 4)
        arrays[f"{v}/person_score"] = np.asarray(o.person_score, np.float64).reshape(n)
        arrays[f"{v}/image_wh"] = np.asarray(o.image_wh, np.int64).reshape(n, 2)
    summary = {"index": spec.index, "images": len(spec.paths), "errors": errors,
               "timer": asdict(timer)}  # fmt: skip
    arrays["summary"] = np.frombuffer(json.dumps(summary).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy stubs: names as keywords
    with atomic_path(out_file) as tmp:
        tmp.write_bytes(buf.getvalue())
    return summary


def load_shard(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(arrays.pop("summary").tobytes().decode())


# --------------------------------------------------------------------------------------------
# The stage around the shards.


@dataclass(frozen=True)
class ChallengeImages:
    """The rows to run: identity columns, image paths and sizes, label 2D where known."""

    columns: dict[str, np.ndarray]
    image_path: np.ndarray
    kp2d_label_px: np.ndarray  # (N, 17, 2), NaN where the table has none
    box_label_px: np.ndarray  # (N, 4) xyxy, NaN where the table has none (the real challenge)

    def __len__(self) -> int:
        return len(self.image_path)


def load_challenge_images(extract_dir: str | Path, splits: Sequence[str]) -> ChallengeImages:
    """The challenge rows of `splits` that have an image. Raises FileNotFoundError naming the
    table, ValueError naming the splits when none is there."""
    path = Path(extract_dir) / "challenge.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no challenge frames table (run the `extract` stage)")
    arrays = frames_arrays(read_frames(path))
    keep = np.isin(arrays["split"].astype(str), list(splits))
    keep &= np.array([bool(p) for p in arrays["image_path"]], dtype=bool)
    if not keep.any():
        found = sorted(set(arrays["split"].astype(str)))
        raise ValueError(f"{path}: no images in infer_2d.splits {list(splits)} (it has {found})")
    columns = {k: arrays[k][keep] for k in (*IDENTITY, "frame", "image_width", "image_height")}
    kp = arrays["kp2d_px"][keep].astype(np.float64).reshape(-1, NUM_JOINTS, 2)
    box = arrays["box_xyxy_px"][keep].astype(np.float64).reshape(-1, 4)
    return ChallengeImages(columns, arrays["image_path"][keep].astype(str), kp, box)


SHARD_RELEVANT = ("variants", "batch_size", "shard_size", "min_person_score", "refine_passes",
                  "person_candidates", "max_pixels")  # fmt: skip


def image_digests(paths: Sequence[str]) -> list[str]:
    """The md5 of each image's bytes ("" for one that cannot be read): what the shards of a
    path hold depends on what is at the path, not its name. About 0.1 s per 50 MB."""
    out = []
    for path in paths:
        try:
            out.append(hashlib.md5(Path(path).read_bytes()).hexdigest())
        except OSError:
            out.append("")
    return out


def work_key(
    cfg: Infer2DConfig, margin: float, models: dict[str, str], images: ChallengeImages
) -> str:
    """What decides the shards' content: models, code, the settings that change results, the
    images' paths and bytes, and with ``gt_box`` their label boxes. Runner, workers and batch
    size of decoding do not."""
    settings = {k: to_dict(cfg)[k] for k in SHARD_RELEVANT}
    boxes = images.box_label_px.tolist() if "gt_box" in cfg.variants else []
    blob = json.dumps(
        {"settings": settings, "margin": margin, "models": models,
         "code": code_digest(__name__), "paths": list(images.image_path),
         "images": image_digests(list(images.image_path)), "label_boxes": boxes},
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def drop_stale_work(root: Path, keep: str) -> list[Path]:
    """Remove the shard folders under `root` of runs other than `keep` (other images, networks
    or settings: they can never be resumed); returns what was removed."""
    stale = [d for d in root.iterdir() if d.is_dir() and d.name != keep] if root.is_dir() else []
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


def shard_specs(
    images: ChallengeImages, cfg: Infer2DConfig, cr: CRConfig, checkpoints: tuple[str, str],
    work_dir: Path, device: str, torch_threads: int,
) -> list[ShardSpec]:  # fmt: skip
    n = len(images)
    return [
        ShardSpec(
            index=k,
            paths=tuple(images.image_path[s : s + cfg.shard_size]),
            out_file=str(work_dir / f"shard-{k:05d}.npz"),
            detector=checkpoints[0],
            cpn=checkpoints[1],
            cfg=to_dict(cfg),
            margin=cr.margin,
            device=device,
            torch_threads=torch_threads,
            label_boxes=tuple(map(tuple, images.box_label_px[s : s + cfg.shard_size].tolist())),
        )  # fmt: skip
        for k, s in enumerate(range(0, n, cfg.shard_size))
    ]


def merge_shards(
    images: ChallengeImages, specs: Sequence[ShardSpec], cfg: Infer2DConfig,
    producer: Producer, out_dir: str | Path, wall_seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """The caches, metrics.json and report.json from the saved shards (all must exist)."""
    per_variant: dict[str, list[dict[str, np.ndarray]]] = {v: [] for v in cfg.variants}
    bad: dict[str, str] = {}
    timer = Timer()
    offset = 0
    for spec in progress(specs, total=len(specs), desc="merge shards"):
        arrays, summary = load_shard(spec.out_file)
        for i, reason in summary["errors"].items():
            bad[str(images.image_path[offset + int(i)])] = reason
        for k in ("detect", "cpn", "total"):
            setattr(timer, k, getattr(timer, k) + summary["timer"][k])
        for v in cfg.variants:
            part = {name.split("/", 1)[1]: a for name, a in arrays.items()
                    if name.startswith(f"{v}/")}  # fmt: skip
            part["rows"] = part["rows"] + offset
            per_variant[v].append(part)
        offset += len(spec.paths)
    metrics: dict[str, Any] = {
        "images": len(images),
        "bad_images": len(bad),
        "seconds": round(wall_seconds, 1),
        # the stage's throughput: shards run side by side, so their summed time is not the wall's
        "images_per_s": round(len(images) / max(wall_seconds, 1e-9), 2),
        "networks_share_of_time": round((timer.detect + timer.cpn) / max(timer.total, 1e-9), 3),
        "detector_seconds": round(timer.detect, 1),
        "cpn_seconds": round(timer.cpn, 1),
    }
    if "gt_box" in cfg.variants:
        metrics["gt_box_no_label_box"] = int((~has_box(images.box_label_px)).sum())
    report: dict[str, Any] = {"bad_images": bad, "no_person": []}
    with staged_files(out_dir) as tmp:
        for v, parts in per_variant.items():
            cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            rows = cat["rows"]
            table = keypoints_table(KeypointRows(
                source=SOURCE[v], **{k: images.columns[k][rows] for k in IDENTITY},
                frame=images.columns["frame"][rows], kp2d_px=cat["kp2d_px"],
                scores=np.clip(cat["scores"], 0, None), box_xyxy_px=cat["box_xyxy_px"],
                image_wh=cat["image_wh"],  # as decoded: right even where the table has none
            ))  # fmt: skip
            write_keypoints(table, tmp / f"{v}.parquet", producer)
            no_box = ~np.isfinite(cat["box_xyxy_px"]).all(axis=1)
            if v == "cr":
                metrics["cr_no_person"] = int(no_box.sum())
                metrics.update(kept_box_hits(cat["box_xyxy_px"], images.box_label_px[rows]))
                report["no_person"] = sorted(str(p) for p in images.image_path[rows[no_box]])
            metrics.update(label_errors(v, cat["kp2d_px"], images.kp2d_label_px[rows]))
        write_metrics(tmp, metrics, HEADLINE)
        write_json_atomic(tmp / "report.json", report)
    return metrics


def label_errors(variant: str, kp2d_px: np.ndarray, label_px: np.ndarray) -> dict[str, float]:
    """Mean joint distance (px), PCK at 5/10% of the labelled person's height (``pck5_height``,
    ``pck10_height``) and whether left and right limbs are told apart (``left_right_ratio``,
    ``swap_share``; `pose3d.metrics`), over the rows whose table has label 2D (the synthetic
    challenge; the real one has none): {} without."""
    known = np.isfinite(label_px).all(axis=(1, 2))
    if not known.any():
        return {}
    dist = keypoint_distances(kp2d_px[known], label_px[known])
    height = person_height(label_px[known])
    return {
        f"{variant}_label_rows": int(known.sum()),
        f"{variant}_kp2d_error_px": round(float(dist.mean()), 3),
        f"{variant}_pck5_height": round(pck(dist, height, 0.05), 4),
        f"{variant}_pck10_height": round(pck(dist, height, 0.10), 4),
        f"{variant}_left_right_ratio": round(left_right_ratio(kp2d_px[known], label_px[known]), 4),
        f"{variant}_swap_share": round(swap_share(kp2d_px[known], label_px[known]), 4),
    }


def kept_box_hits(kept_xyxy_px: np.ndarray, label_xyxy_px: np.ndarray) -> dict[str, float]:
    """The share of the rows with a label box whose kept box (the route's, after its pick among
    the detector's candidates; NaN = none) overlaps it with IoU >= 0.5 (``cr_box_iou50``): the
    detector's part of the route as the CPN sees it. {} where no row has a label box (the real
    challenge). Shapes: (N, 4), (N, 4)."""
    labelled = has_box(label_xyxy_px)
    if not labelled.any():
        return {}
    kept, truth = kept_xyxy_px[labelled], label_xyxy_px[labelled]
    iou = np.array([
        box_iou(k, t)[0, 0] if np.isfinite(k).all() else 0.0
        for k, t in zip(kept, truth, strict=True)
    ])  # fmt: skip
    return {"cr_box_iou50": round(float(np.mean(iou >= 0.5)), 4)}


def clear_work(work_dir: Path) -> None:
    """Remove a finished run's shards (nothing is left to resume)."""
    shutil.rmtree(work_dir, ignore_errors=True)


@dataclass(frozen=True)
class InferPlan:
    """What a run of the stage computes: its images, shards and the producer of its caches."""

    images: ChallengeImages
    specs: list[ShardSpec]
    work_dir: str
    producer: Producer


def plan_infer_2d(
    cfg: Infer2DConfig, cr: CRConfig, extract_dir: str, checkpoints: tuple[str, str],
    out_dir: str, device: str,
) -> InferPlan:  # fmt: skip
    """Read the images' rows and the checkpoints' digests; lay out the shards."""
    images = load_challenge_images(extract_dir, cfg.splits)
    models: dict[str, str] = {}
    for name, path in zip(("detector", "cpn"), checkpoints, strict=True):
        if name == "detector" and "cr" not in cfg.variants:
            continue
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no {name} checkpoint (run `train_{name}`)")
        models[name] = weights_digest(path)
    key = work_key(cfg, cr.margin, models, images)
    stale = drop_stale_work(work_root(out_dir), key)
    if stale:
        logger().info(
            "infer_2d: removed the shards of %d earlier run(s) of other inputs", len(stale)
        )
    work_dir = work_root(out_dir) / key
    work_dir.mkdir(parents=True, exist_ok=True)
    unboxed = int((~has_box(images.box_label_px)).sum())
    if "gt_box" in cfg.variants and unboxed:
        logger().warning(
            "infer_2d: gt_box: %d of %d images have no label box in %s/challenge.parquet (the "
            "real challenge gives none): they are left out of gt_box.parquet",
            unboxed, len(images), extract_dir,
        )  # fmt: skip
    threads = CPU_THREADS_PER_SHARD if device == "cpu" else 0
    specs = shard_specs(images, cfg, cr, checkpoints, work_dir, device, threads)
    done = sum(Path(s.out_file).is_file() for s in specs)
    logger().info(
        "infer_2d: %d images of %s in %d shards (%d done already, in %s), variants %s",
        len(images), list(cfg.splits), len(specs), done, work_dir, list(cfg.variants),
    )  # fmt: skip
    # the caches' producer: what decides their content, not how it was scheduled (runner,
    # workers), so the same inputs give the same bytes whichever runner made them
    scheduling = ("runner", "dask_address", "dask_workers", "loader_workers")
    settings = {k: v for k, v in to_dict(cfg).items() if k not in scheduling}
    params = {"infer_2d": settings, "cr": to_dict(cr)}
    producer = Producer("infer_2d", code_digest(__name__), models, params)
    return InferPlan(images, specs, str(work_dir), producer)


def finish_infer_2d(plan: InferPlan, cfg: Infer2DConfig, out_dir: str, wall: float) -> dict:
    """Merge the shards into the stage's outputs, then drop them."""
    missing = [s.out_file for s in plan.specs if not Path(s.out_file).is_file()]
    if missing:
        raise RuntimeError(f"infer_2d: {len(missing)} shard(s) missing, first {missing[0]}")
    metrics = merge_shards(plan.images, plan.specs, cfg, plan.producer, out_dir, wall)
    clear_work(Path(plan.work_dir))
    logger().info("infer_2d: %s", metrics)
    return metrics
