"""The `pose3d` console command (``[project.scripts]``): ``predict``, ``submit``, ``metrics`` and
``plots``.

    pose3d predict photo.jpg folder/ clip.mp4 -o predictions.json --figures figs/
    pose3d predict --keypoints my_2d.json --lifter h36m_lifter.pt -o predictions.json
    pose3d submit -o submission/ --zip

``predict`` runs a pipeline run's trained detector, CPN and lifter on images, folders and videos,
or a lifter on given 2D keypoints (a keypoint cache or JSON), and writes one JSON file of
`pose3d.predictions`' schema (docs/predict.md). Exit status: 0 when at least one frame was
predicted, 1 when nothing could be (no weights, no readable input), 2 for a bad command line.

``submit`` lifts the 2D of every challenge Test image (a keypoint cache, default ``infer_2d``'s
``cr.parquet``) with a lifter (default the run's) and writes ``<out>/Test/POSE/%05d.csv`` per
image, the challenge's layout, read back and checked, with ``<out>/summary.json``
(`tasks.submit`, docs/predict.md). Exit status: 0 when written, 1 when it could not be (no
lifter, no table, a cache without the split), 2 for a bad command line or params.

``metrics`` prints the pipeline's headline metrics (``dvc metrics show``) one line per stage
and metric, in 100 columns.

``plots`` writes the page of ``dvc plots show`` (``dvc_plots/index.html``) with vega, vega-lite
and vega-embed inlined from vl-convert-python instead of loaded from a CDN: it opens offline.
Exit status: 0 when written, 1 when no plot has data yet (``make run`` first) or DVC failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pose3d.config import CHALLENGE_SPLITS, ConfigError, Params, load_params
from pose3d.io import CHECKPOINT, atomic_dir

log = logging.getLogger("pose3d")


def _predict_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="2D and 3D joints of people in images, folders, videos, or of given 2D keypoints",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", type=Path, help="image files, folders, videos")
    p.add_argument("--keypoints", type=Path, help="lift these 2D keypoints instead (.parquet "
                   "keypoint cache or .json, docs/predict.md)")  # fmt: skip
    p.add_argument("-o", "--output", type=Path, default=Path("predictions.json"),
                   help="JSON file to write (default: %(default)s)")  # fmt: skip
    p.add_argument("--figures", type=Path, help="write a Fig. 3 picture per frame here")
    p.add_argument("--weights-dir", type=Path, help="a pipeline run's data folder: "
                   "<dir>/train_detector, train_cpn, train_lifter/checkpoint.pt")  # fmt: skip
    for name in ("detector", "cpn", "lifter"):
        p.add_argument(f"--{name}", type=Path, help=f"the {name} checkpoint (overrides the rest)")
    p.add_argument("--params", default="params.yaml", help="where the default weights and the "
                   "crop settings come from (default: %(default)s)")  # fmt: skip
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: the params'")
    p.add_argument("--batch-size", type=int, default=8, help="frames per batch")


def _checkpoint(args: argparse.Namespace, params: Params | None, name: str) -> Path:
    """An explicit --<name>, else --weights-dir, else the params' paths.train_<name>."""
    explicit = getattr(args, name)
    if explicit is not None:
        return Path(explicit)
    if args.weights_dir is not None:
        return args.weights_dir / f"train_{name}" / CHECKPOINT
    folder = getattr(params.paths, f"train_{name}") if params else f"data/train_{name}"
    return Path(folder) / CHECKPOINT


def _params(path: str) -> Params | None:
    """The params file, or None (built-in defaults) when the default one is absent."""
    if path == "params.yaml" and not Path(path).is_file():
        return None
    return load_params(path)


def predict(args: argparse.Namespace) -> int:
    """Run ``pose3d predict``; returns the exit status."""
    from tasks.engine import select_device
    from tasks.predict import MissingWeights, PredictSettings, Weights, run_lift, run_predict_images

    _log_to_stderr()  # after Prefect's import has set up its handlers
    params = _params(args.params)
    lifter = _checkpoint(args, params, "lifter")
    try:
        device = str(select_device(args.device or (params.device if params else "auto")))
        if args.keypoints is not None:
            counts = run_lift(args.keypoints, lifter, args.output, device)
        else:
            settings = PredictSettings(batch_size=args.batch_size, device=device)
            if params is not None:
                settings = PredictSettings(
                    params.cr.margin, params.infer_2d.min_person_score,
                    params.infer_2d.max_pixels, params.infer_2d.refine_passes,
                    params.infer_2d.person_candidates, args.batch_size, device,
                )  # fmt: skip
            weights = Weights(lifter, _checkpoint(args, params, "detector"),
                              _checkpoint(args, params, "cpn"))  # fmt: skip
            counts = run_predict_images(args.inputs, weights, settings, args.output, args.figures)
    except (MissingWeights, FileNotFoundError, ValueError) as err:
        log.error("%s", err)
        return 1
    if counts["frames"] == 0:
        log.error("no frame could be read from %s; nothing written", [str(p) for p in args.inputs])
        return 1
    log.info("%d frame(s) -> %s (%d input(s) skipped, %d frame(s) without a person found)",
             counts["frames"], args.output, counts["errors"], counts["no_person"])  # fmt: skip
    return 0


def _log_to_stderr() -> None:
    """The `pose3d` logger's INFO lines on stderr: through the root logger's handlers (Prefect's
    console, once imported), else a plain one."""
    log.setLevel(logging.INFO)
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        log.addHandler(handler)


def _submit_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "submit",
        help="a challenge submission: every Test image's 3D as <out>/Test/POSE/%%05d.csv",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--keypoints", type=Path, help="keypoint cache holding the split's 2D "
                   "(default: <paths.infer_2d>/cr.parquet of --params)")  # fmt: skip
    p.add_argument("--lifter", type=Path, help="lifter checkpoint (default: "
                   "<paths.train_lifter>/checkpoint.pt)")  # fmt: skip
    p.add_argument("--frames", type=Path, help="extract's table of the challenge images "
                   "(default: <paths.extract>/challenge.parquet)")  # fmt: skip
    p.add_argument("-o", "--out", type=Path, default=Path("submission"),
                   help="folder to write, replaced whole (default: %(default)s)")  # fmt: skip
    p.add_argument("--split", choices=CHALLENGE_SPLITS, default="Test", help="challenge "
                   "split (default: %(default)s; Val to score it yourself)")  # fmt: skip
    p.add_argument("--no-fallback", action="store_true", help="refuse images without 2D "
                   "instead of giving them the lifter's training-mean pose")  # fmt: skip
    p.add_argument("--zip", action="store_true", help="also <out>/submission.zip")
    p.add_argument("--params", default="params.yaml", help="where the default paths and the "
                   "device come from (default: %(default)s)")  # fmt: skip
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: the params'")


def submit(args: argparse.Namespace) -> int:
    """Run ``pose3d submit``; returns the exit status."""
    from tasks.engine import select_device
    from tasks.predict import MissingWeights
    from tasks.submit import SubmitInputs, run_submit

    _log_to_stderr()
    params = _params(args.params)
    paths = {k: getattr(params.paths, k) if params else f"data/{k}"
             for k in ("infer_2d", "train_lifter", "extract")}  # fmt: skip
    inputs = SubmitInputs(
        keypoints=args.keypoints or Path(paths["infer_2d"]) / "cr.parquet",
        lifter=args.lifter or Path(paths["train_lifter"]) / CHECKPOINT,
        frames=args.frames or Path(paths["extract"]) / "challenge.parquet",
        out=args.out, split=args.split, fill_missing=not args.no_fallback, zip=args.zip,
        device=str(select_device(args.device or (params.device if params else "auto"))),
    )  # fmt: skip
    try:
        summary = run_submit(inputs)
    except (MissingWeights, FileNotFoundError, ValueError) as err:
        log.error("%s", err)
        return 1
    log.info("%s: %d %s pose files, read back and checked (%d lifted, %d given the lifter's "
             "training-mean pose); %s", args.out / args.split / "POSE", summary["images"],
             args.split, summary["lifted"], summary["fallback"]["count"],
             args.out / "summary.json")  # fmt: skip
    return 0


def _metrics_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser(
        "metrics",
        help="the pipeline's headline metrics, one line per stage and metric",
        description="`dvc metrics show`, one line per stage and metric (it fits 100 columns; "
        "DVC's own table has a column per key). Run in the project's folder.",
    )


def metrics() -> int:
    """Run ``pose3d metrics``; returns the exit status."""
    from pose3d.metrics_listing import metrics_lines

    cmd = [sys.executable, "-m", "dvc", "metrics", "show", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"pose3d metrics: dvc metrics show failed: {proc.stderr.strip()}", file=sys.stderr)
        return proc.returncode
    shown = json.loads(proc.stdout or "{}").get("", {}).get("data", {})
    files = {path: entry.get("data", {}) for path, entry in shown.items()}
    print("\n".join(metrics_lines(files)))
    return 0


def _plots_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plots",
        help="dvc.yaml's plots as one page that opens offline (dvc_plots/index.html)",
        description="`dvc plots show` with vega, vega-lite and vega-embed inlined from "
        "vl-convert-python (DVC's page loads them from a CDN: blank without internet). "
        "Run in the project's folder.",
    )
    p.add_argument("-o", "--out", type=Path, default=Path("dvc_plots"),
                   help="folder to write index.html in (default: %(default)s)")  # fmt: skip


def _dvc_plots(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "dvc", "plots", "show", *args]
    return subprocess.run(cmd, capture_output=True, text=True)


def _plots_problems(data: dict[str, list[Any]], errors: list[dict[str, str]]) -> list[str]:
    """What ``dvc plots show --json`` (its `data` and `errors`) reports: the first message is
    fatal when no plot has data, else each is a warning (files not there yet are left out).
    """
    missing = sorted({e["source"] for e in errors if "source" in e})
    broken = [f"{e.get('type', 'error')}: {e.get('msg', '')}" for e in errors if "source" not in e]
    if any(data.values()):
        left_out = [f"not found yet, left out of the page: {', '.join(missing)}"]
        return (left_out if missing else []) + broken
    if broken:
        return [f"dvc plots show failed: {'; '.join(broken)}"]
    if not missing:
        return ["no plots declared here: run in the project's folder (beside dvc.yaml)"]
    return [f"no plot has data yet ({', '.join(missing)} not found): run the pipeline first "
            "(make run)"]  # fmt: skip


def plots(out: Path) -> int:
    """Run ``pose3d plots``; returns the exit status."""
    from pose3d.plots_page import cdn_versions, inline_vega, vega_bundle

    shown = _dvc_plots("--json")
    if shown.returncode != 0:
        print(f"pose3d plots: dvc plots show failed: {shown.stderr.strip()}", file=sys.stderr)
        return 1
    report = json.loads(shown.stdout or "{}")
    data: dict[str, list[Any]] = report.get("data", {})
    for problem in _plots_problems(data, report.get("errors", [])):
        print(f"pose3d plots: {problem}", file=sys.stderr)
    if not any(data.values()):
        return 1
    try:
        with atomic_dir(out) as tmp:
            written = _dvc_plots("--out", str(tmp))
            if written.returncode != 0:
                raise ValueError(f"dvc plots show failed: {written.stderr.strip()}")
            page = tmp / "index.html"
            html = page.read_text(encoding="utf8")
            bundle = vega_bundle(cdn_versions(html).get("vega-lite", "5"))
            page.write_text(inline_vega(html, bundle), encoding="utf8")
    except ValueError as err:
        print(f"pose3d plots: {err}", file=sys.stderr)
        return 1
    drawn = sum(1 for entries in data.values() if entries)
    print(f"{out / 'index.html'}: {drawn} plot(s), opens offline (vega inlined)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pose3d", description="3D human pose from images")
    sub = parser.add_subparsers(dest="command", required=True)
    _predict_parser(sub)
    _submit_parser(sub)
    _metrics_parser(sub)
    _plots_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "metrics":
        return metrics()
    if args.command == "plots":
        return plots(args.out)
    if args.command == "predict":
        if bool(args.inputs) == (args.keypoints is not None):
            parser.error("predict: give image/folder/video inputs, or --keypoints FILE (not both)")
        if args.keypoints is not None and args.figures is not None:
            parser.error("predict: --figures needs images, not --keypoints")
    try:
        return submit(args) if args.command == "submit" else predict(args)
    except ConfigError as err:
        print(f"pose3d {args.command}: bad params: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
