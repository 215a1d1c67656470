"""What every stage entry point shares: ``--params PATH`` and ``--set section.key=value``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from pose3d.config import ConfigError


def parse_stage_args(stage: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m flows.{stage}", description=f"Run the `{stage}` stage as a Prefect flow."
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
    return parser.parse_args(argv)


def run_stage(stage: str, flow_fn: Callable[..., object], argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run `flow_fn(params_path, overrides)`; exit 2 on bad params."""
    args = parse_stage_args(stage, argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        flow_fn(params_path=args.params, overrides=list(args.overrides))
    except ConfigError as err:
        print(f"{stage}: bad params: {err}", file=sys.stderr)
        return 2
    return 0
