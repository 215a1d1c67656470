"""Deployments for starting runs from the Prefect UI: ``make ui`` (a server on 127.0.0.1:4200
and this), then open http://127.0.0.1:4200 -> Deployments -> pipeline/dvc-repro -> Run.

The `pipeline/dvc-repro` deployment runs ``dvc repro`` (optionally for chosen stages, optionally
forced; with ``overrides`` typed in the run form as ``section.key=value``, ``dvc exp run --temp
-S``: an experiment in a temporary copy, which leaves the checkout as it was; its artifacts name
it), so runs started in the UI are versioned by DVC exactly like runs started from a shell. A
run's artifacts show its metrics (one row each) and its figures on the UI's artifact pages.
Its runs queue, one at a time (DVC locks the repository): a run started while another is going
waits, Scheduled (or AwaitingConcurrencySlot where a second `make serve` holds the deployment's
one slot), and starts when that one ends.

Serving needs a running Prefect server (PREFECT_API_URL); without one this refuses to start
rather than serve against a throwaway temporary server that the UI never sees.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flows.server import server_problem

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

FLOW_NAME = "pipeline"  # flows.pipeline.pipeline_flow's name
DEPLOYMENT_NAME = "dvc-repro"
_HOW_TO_START = "start one with `make ui` in another shell, then run `make serve`"


def build_deployment() -> RunnerDeployment:
    """The `pipeline/dvc-repro` deployment: at most one run at a time, later runs enqueued."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import RunnerDeployment

    from flows.pipeline import pipeline_flow

    return RunnerDeployment.from_flow(  # what pipeline_flow.to_deployment does, typed as sync
        pipeline_flow,
        name=DEPLOYMENT_NAME,
        parameters={"targets": [], "force": False, "overrides": []},
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Serves: {FLOW_NAME}/{DEPLOYMENT_NAME} (runs one at a time). Stop with Ctrl-C.",
    )
    parser.parse_args(argv)
    from prefect import serve
    from prefect.settings import get_current_settings

    problem = server_problem(get_current_settings().api.url)
    if problem is not None:
        parser.exit(
            2, f"{parser.prog}: {problem}, so there is nothing to serve to; {_HOW_TO_START}\n"
        )
    # limit=1: this runner starts one run at a time; the deployment's limit holds across runners
    serve(build_deployment(), limit=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
