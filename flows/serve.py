"""Deployments for starting runs from the Prefect UI: ``make ui`` (a server on 127.0.0.1:4200
and this), then open http://127.0.0.1:4200 -> Deployments -> pipeline/dvc-repro -> Run.

The `pipeline/dvc-repro` deployment runs ``dvc repro`` (optionally for chosen stages, optionally
forced; with ``overrides`` typed in the run form as ``section.key=value``, ``dvc exp run -S``),
so runs started in the UI are versioned by DVC exactly like runs started from a shell.
Its runs queue, one at a time (DVC locks the repository): a run started while another is going
waits, Scheduled (or AwaitingConcurrencySlot where a second `make serve` holds the deployment's
one slot), and starts when that one ends.

Serving needs a running Prefect server (PREFECT_API_URL); without one this refuses to start
rather than serve against a throwaway temporary server that the UI never sees.
"""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

FLOW_NAME = "pipeline"  # flows.pipeline.pipeline_flow's name
DEPLOYMENT_NAME = "dvc-repro"
HEALTH_TIMEOUT_S = 2.0
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


def server_problem(api_url: str | None, timeout_s: float = HEALTH_TIMEOUT_S) -> str | None:
    """Why no Prefect server answers at `api_url` (one line), or None if ``/health`` answers."""
    if not api_url:
        return f"PREFECT_API_URL is not set, so there is no server to serve to; {_HOW_TO_START}"
    url = api_url.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            if response.status == 200:
                return None
            reason = f"HTTP {response.status}"
    except urllib.error.HTTPError as err:
        reason = f"HTTP {err.code}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = str(getattr(err, "reason", err))
    return f"no Prefect server answers at PREFECT_API_URL={api_url} ({reason}); {_HOW_TO_START}"


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
        parser.exit(2, f"{parser.prog}: {problem}\n")
    # limit=1: this runner starts one run at a time; the deployment's limit holds across runners
    serve(build_deployment(), limit=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
