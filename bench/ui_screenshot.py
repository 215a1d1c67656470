"""The README's screenshot of the Prefect UI: the newest finished `pipeline` flow run, taken with
headless Chromium (Debian's `chromium` package; nothing downloads a browser).

    make ui &                                   # a server on 127.0.0.1:4200 and the deployment
    # start a run: the UI's Run form, or through the API as tests/e2e/test_ui.py does
    .venv/bin/python bench/ui_screenshot.py --out docs/img/ui_run.png

Prints the run it took and the file written.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.settings import PREFECT_API_URL, temporary_settings


def newest_pipeline_run(api_url: str) -> str:
    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["pipeline"])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED]))
            ),
            sort=FlowRunSort.END_TIME_DESC,
            limit=1,
        )
    if not runs:
        raise SystemExit(f"no finished `pipeline` run on {api_url}: start one first")
    return str(runs[0].id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ui", default="http://127.0.0.1:4200")
    parser.add_argument("--out", type=Path, default=Path("docs/img/ui_run.png"))
    parser.add_argument("--size", default="1500,950", help="window width,height in px")
    args = parser.parse_args()
    browser = shutil.which("chromium")
    if browser is None:
        raise SystemExit("no chromium on PATH: apt-get install chromium")
    run_id = newest_pipeline_run(f"{args.ui}/api")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    url = f"{args.ui}/runs/flow-run/{run_id}"
    cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--window-size={args.size}", "--virtual-time-budget=20000",
           f"--screenshot={args.out.resolve()}", url]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    print(f"{url} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
