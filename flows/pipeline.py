"""The whole pipeline as one Prefect flow: ``python -m flows.pipeline [STAGE ...] [--force]``.

It runs ``dvc repro`` (each DVC stage is itself a Prefect flow run), so DVC decides what is
stale and versions every artifact whether a run starts from a shell, from ``make run`` or from
the Prefect UI (see ``flows/serve.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from prefect import flow

from tasks.repro import dvc_repro_task


@flow(name="pipeline")
def pipeline_flow(targets: list[str] | None = None, force: bool = False) -> list[str]:
    """Bring the DVC pipeline (or the given stages and what they depend on) up to date."""
    return dvc_repro_task(targets or [], force)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.pipeline", description=__doc__)
    parser.add_argument("targets", nargs="*", help="stages to bring up to date (default: all)")
    parser.add_argument("--force", action="store_true", help="rerun even if nothing changed")
    args = parser.parse_args(argv)
    pipeline_flow(targets=args.targets, force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
