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
import threading
import time
from collections.abc import Callable, Iterator, Sequence
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


def _exit_now(code: int) -> None:
    """Stop the stage's child processes (a Prefect server of its own), then exit at once,
    without Python's exit-time work (Prefect's queues of reports, thread joins)."""
    import psutil  # installed with DVC

    sys.stdout.flush()
    sys.stderr.flush()
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.terminate()
    os._exit(code)


def _stop_now(stage: str, signum: int, _frame: object) -> None:
    """Ctrl-C (SIGINT) or SIGTERM: stop at once. Every output is written to a temporary name and
    renamed, so what is finished (checkpoints, shards) stays and nothing is half-written; the
    next run resumes. Waiting instead for worker threads and for reports to a Prefect server that
    the same Ctrl-C may have stopped could take minutes."""
    sys.stderr.write(
        f"{stage}: stopped by signal {signum}; finished work is kept, rerun to go on\n"
    )
    _exit_now(128 + signum)


# After a stage's work is done, how long its reports to the Prefect server may take before the
# server is asked whether it is still there (Prefect retries a server that went away for minutes)
REPORT_GRACE_S = 10.0
_HEALTH_EVERY_S = 5.0


def _leave_when_server_gone(stage: str, api_url: str) -> None:
    """Run beside the end of a stage whose work is done: if its Prefect server stops answering
    (``make ui`` stopped), exit 0 now instead of retrying the reports; the outputs are written."""
    from flows.server import server_problem

    time.sleep(REPORT_GRACE_S)
    while (problem := server_problem(api_url)) is None:
        time.sleep(_HEALTH_EVERY_S)
    sys.stderr.write(
        f"{stage}: its work is done and its outputs are written, but the Prefect server went "
        f"away ({problem}); exiting without reporting the end of the run\n"
    )
    _exit_now(0)


def _watched(stage: str, flow_fn: Any, api_url: str) -> Any:
    """A copy of the flow `flow_fn` whose body, once it returns, starts `_leave_when_server_gone`."""
    body = flow_fn.fn

    @functools.wraps(body)
    def watched_body(*args: Any, **kwargs: Any) -> Any:
        result = body(*args, **kwargs)
        threading.Thread(target=_leave_when_server_gone, args=(stage, api_url), daemon=True).start()
        return result

    watched = flow_fn.with_options()
    watched.fn = watched_body
    return watched


@contextlib.contextmanager
def flow_process(name: str) -> Iterator[str]:
    """Around the flows of a process started from a shell, DVC or the UI (a stage, the
    pipeline): Ctrl-C and SIGTERM stop it at once (`_stop_now`), and it reports to the server of
    PREFECT_API_URL, or without one to a server of its own, shared with its child processes and
    stopped with it (even on ``kill -9``: `flows.server`), not to Prefect's temporary server,
    which a Ctrl-C stops first and which is then retried for a minute. Yields the API URL."""
    signal.signal(signal.SIGINT, functools.partial(_stop_now, name))
    signal.signal(signal.SIGTERM, functools.partial(_stop_now, name))
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.server import prefect_server

    with contextlib.ExitStack() as stack:
        api_url = PREFECT_API_URL.value()
        if not api_url:
            api_url = stack.enter_context(prefect_server(0))
            stack.enter_context(temporary_settings({PREFECT_API_URL: api_url}))
            os.environ["PREFECT_API_URL"] = api_url  # for its children: DVC's stages, workers
            stack.callback(send_reports)  # first, while the server still answers
        yield api_url


def send_reports() -> None:
    """Send the logs and events Prefect still holds, before this process's own server stops
    (at exit they would go to a server that is gone: an error line, and retries)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    with contextlib.suppress(RuntimeError):  # no log was sent: no worker to drain
        APILogWorker.instance().drain()
    EventsWorker.drain_all()


def run_stage(spec: StageSpec, flow_fn: Any, argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the flow `flow_fn(params_path, overrides)` (in
    `flow_process`); under the pipeline flow (`PARENT_TASK_RUN_ENV` set by its `dvc repro` task)
    as a run tied to it."""
    args = parse_stage_args(spec, argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with flow_process(spec.name) as api_url:
        _run_flow(spec, _watched(spec.name, flow_fn, api_url), args)
    return 0


def _run_flow(spec: StageSpec, flow_fn: Any, args: argparse.Namespace) -> None:
    parameters = {"params_path": args.params, "overrides": list(args.overrides)}
    parent = os.environ.get(PARENT_TASK_RUN_ENV, "")
    if not parent:
        flow_fn(**parameters)
        return
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
        return
    run_flow(flow_fn, flow_run=flow_run, parameters=parameters)


def load_stage_params(params_path: str, overrides: list[str] | None) -> Params:
    """Inside a flow run (from a shell, DVC or the UI): the params, parsed and checked."""
    return load_params(params_path, overrides or [])
