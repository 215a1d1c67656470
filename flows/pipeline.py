"""The whole pipeline as one Prefect flow.

- ``python -m flows.pipeline [STAGE ...] [--force] [--set k=v ...]`` runs ``dvc repro`` (with
  ``--set``: ``dvc exp run --temp -S k=v``, an experiment in a temporary copy that leaves the
  workspace as it was and is named in the log; each DVC stage is itself a Prefect flow run, tied
  to this one), so DVC decides what is stale and versions every artifact, whether a run starts
  from a shell, from ``make run`` or from the Prefect UI (``flows/serve.py``).
- ``python -m flows.pipeline --params FILE [--set k=v ...] [STAGE ...]`` runs the stage flows
  themselves, in the DAG's order, on another params file (default stages: extract,
  import_keypoints, lifting, train_lifter, evaluate): real Human3.6M with ``params/h36m.yaml``,
  without DVC and without the synthetic world.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

ORDER = ("generate", "extract", "import_keypoints", "train_detector", "train_cpn", "infer_2d",
         "lifting", "train_lifter", "evaluate", "ablation")  # fmt: skip
DIRECT = ("extract", "import_keypoints", "lifting", "train_lifter", "evaluate")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m flows.pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("targets", nargs="*", help=f"stages, of {', '.join(ORDER)}")
    parser.add_argument(
        "--force",
        action="store_true",
        help="rerun the named stages (all, if none is named) even if unchanged",
    )
    parser.add_argument("--params", default=None, help="run the flows on this params file")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one param: with --params for that run; without, "
                        "a DVC experiment (dvc exp run --temp -S)")  # fmt: skip
    args = parser.parse_args(argv)
    unknown = [t for t in args.targets if t not in ORDER]
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; expected any of {list(ORDER)}")
    if args.overrides or args.params is not None:
        from flows._stage import ConfigError, load_params

        try:
            load_params(args.params or "params.yaml", args.overrides)
        except ConfigError as err:
            print(f"pipeline: bad params: {err}", file=sys.stderr)
            raise SystemExit(2) from None
    return args


if __name__ == "__main__":
    _ARGS = _parse(sys.argv[1:])  # --help and bad params answer before Prefect loads

import importlib  # noqa: E402

from prefect import flow  # noqa: E402

from flows._stage import flow_process  # noqa: E402
from pose3d.config import load_params  # noqa: E402
from tasks.repro import Repro, dvc_repro_task, publish_results_task  # noqa: E402


@flow(name="pipeline")
def pipeline_flow(
    targets: list[str] | None = None, force: bool = False, overrides: list[str] | None = None
) -> list[str]:
    """Bring the DVC pipeline (or the given stages and what they depend on) up to date; with
    `overrides` (``section.key=value``, as typed in the UI's run form) as a DVC experiment in a
    temporary copy of the repository (``dvc exp run --temp -S``), which leaves the workspace as
    it was. Publishes the metrics and figures (the experiment's, naming it) as artifacts."""
    if overrides:  # a wrong key or value fails here, by name, before DVC starts
        load_params("params.yaml", overrides)
    run: Repro = dvc_repro_task(targets or [], force, overrides=overrides or [])
    publish_results_task(experiment=run.experiment)
    return run.stages


@flow(name="stages")
def stages_flow(
    params_path: str, overrides: list[str] | None = None, stages: list[str] | None = None
) -> list[str]:
    """Run the given stage flows (as subflows) in the DAG's order on `params_path`."""
    wanted = [s for s in ORDER if s in (stages or DIRECT)]
    for stage in wanted:
        module = importlib.import_module(f"flows.{stage}")
        getattr(module, f"{stage}_flow")(params_path=params_path, overrides=overrides or [])
    return wanted


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    with flow_process("pipeline"):
        if args.params is None:
            pipeline_flow(targets=args.targets, force=args.force, overrides=args.overrides)
        else:
            stages_flow(
                params_path=args.params, overrides=args.overrides, stages=args.targets or None
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
