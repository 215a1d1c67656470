"""What every stage entry point shares: ``--params PATH``, ``--set section.key=value``, a
``--help`` that says what the stage reads and writes, and params checked before anything slow.

Each flow module calls `preflight_when_main` first thing, before it imports Prefect, torch or
the tasks: ``python -m flows.<stage> --help`` and a bad params file or ``--set`` answer in a
fraction of a second, with one line naming the key, the value and where it came from.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from pose3d.config import ConfigError, Params, blame, load_params

# Set by tasks.repro for the `dvc repro` it runs (not imported from there: this module loads
# before Prefect and the tasks, so `--help` answers at once).
PARENT_TASK_RUN_ENV = "POSE3D_PARENT_TASK_RUN_ID"


@dataclass(frozen=True)
class StageSpec:
    """One DVC stage as its users see it (``--help``)."""

    name: str
    summary: str  # one sentence: what the stage does
    reads: str  # inputs: artifacts and files
    writes: str  # outputs under its ``paths.<name>`` folder
    sections: tuple[str, ...]  # params sections (or keys) it reads
    # a check of the params against what is on disk, run before anything slow (ValueError)
    check: Callable[[Params], None] | None = None


def _parser(spec: StageSpec) -> argparse.ArgumentParser:
    epilog = (
        f"reads:    {spec.reads}\nwrites:   {spec.writes}\n"
        f"params:   {', '.join(spec.sections)} (params.yaml)\n\n"
        f"Under DVC: dvc repro {spec.name}"
    )
    parser = argparse.ArgumentParser(
        prog=f"python -m flows.{spec.name}",
        description=f"The `{spec.name}` stage as a Prefect flow: {spec.summary}",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--params", default="params.yaml", help="params file (default: %(default)s)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one param, as in `dvc exp run -S` (repeatable)",
    )
    return parser


def parse_stage_args(spec: StageSpec, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; exits 0 after ``--help`` and 2 with one line on bad params."""
    args = _parser(spec).parse_args(argv)
    try:
        args.params_obj = load_params(args.params, list(args.overrides))
        for check in (_device_check, *([spec.check] if spec.check else [])):
            _checked(check, args.params_obj, args.params, list(args.overrides))
    except ConfigError as err:
        print(f"{spec.name}: bad params: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    return args


def _checked(
    check: Callable[[Params], None], params: Params, path: str, overrides: list[str]
) -> None:
    """`check` as a params error: its ValueError blamed on the ``--set`` or the file."""
    try:
        check(params)
    except ValueError as err:
        raise ConfigError(blame(ConfigError(str(err)), path, overrides)) from err


def _device_check(params: Params) -> None:
    """``device: cuda`` on a machine whose torch sees no GPU fails at once, not after the stage
    has loaded its data (torch is imported only to ask)."""
    if params.device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise ValueError("device: cuda, but torch sees no CUDA device (use auto or cpu)")


def unseen_by_challenge(section: str) -> Callable[[Params], None]:
    """The check of a 2D training stage (`section`): none of its training subjects may appear in
    the challenge's Val/Test images (read from extract's challenge table, where there is one)."""

    def check(params: Params) -> None:
        from pose3d.frames import check_unseen_subjects

        table = Path(params.paths.extract) / "challenge.parquet"
        check_unseen_subjects(table, getattr(params, section).subjects, section)

    return check


def preflight_when_main(spec: StageSpec, module_name: str) -> None:
    """Run as ``python -m flows.<stage>``: answer ``--help`` and reject bad params now, before
    the module goes on to import Prefect and torch. Imported as a module: nothing."""
    if module_name == "__main__":
        parse_stage_args(spec, sys.argv[1:])


def _stop_now(stage: str, signum: int, _frame: object) -> None:
    """Ctrl-C (SIGINT) or SIGTERM: stop at once. Every output is written to a temporary name and
    renamed, so what is finished (checkpoints, shards) stays and nothing is half-written; the
    next run resumes. Waiting instead for worker threads and for reports to a Prefect server that
    the same Ctrl-C may have stopped could take minutes."""
    import psutil  # installed with DVC

    sys.stderr.write(
        f"{stage}: stopped by signal {signum}; finished work is kept, rerun to go on\n"
    )
    sys.stderr.flush()
    for child in psutil.Process().children(recursive=True):  # e.g. a temporary Prefect server
        with contextlib.suppress(psutil.Error):
            child.terminate()
    os._exit(128 + signum)


def run_stage(spec: StageSpec, flow_fn: Any, argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the flow `flow_fn(params_path, overrides)`; under the
    pipeline flow (`PARENT_TASK_RUN_ENV` set by its `dvc repro` task) as a run tied to it."""
    args = parse_stage_args(spec, argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGINT, functools.partial(_stop_now, spec.name))
    signal.signal(signal.SIGTERM, functools.partial(_stop_now, spec.name))
    parameters = {"params_path": args.params, "overrides": list(args.overrides)}
    parent = os.environ.get(PARENT_TASK_RUN_ENV, "")
    if not parent:
        flow_fn(**parameters)
        return 0
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow

    try:
        with get_client(sync_client=True) as client:
            flow_run = client.create_flow_run(
                flow_fn, parameters=parameters, parent_task_run_id=UUID(parent), tags=["pipeline"]
            )
    except Exception as err:  # the parent is on another server: run untied rather than fail
        logging.getLogger("pose3d").warning("%s: not tied to the pipeline run (%s)", spec.name, err)
        flow_fn(**parameters)
        return 0
    run_flow(flow_fn, flow_run=flow_run, parameters=parameters)
    return 0


def load_stage_params(params_path: str, overrides: list[str] | None) -> Params:
    """Inside a flow run (from a shell, DVC or the UI): the params, parsed and checked."""
    return load_params(params_path, overrides or [])
