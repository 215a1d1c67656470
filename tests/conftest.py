"""Shared fixtures. Real data lives beside the project at ../shared/data and is never copied."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder ../shared/data; tests that use it skip where it is absent."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(
            f"real data not available: {SHARED_DATA} is absent (see README, 'Data and licences')"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reads ../shared/data is a `real_data` test (`make test-real`), whether or not
    it says so."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_data)


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Every test leaves os.environ as it found it. Dask's LocalCluster, for one, sets
    OMP_NUM_THREADS=1 (and MKL_, OPENBLAS_) in the process that starts it; left there, the stage
    processes of a later end-to-end test would run torch on one thread and give other numbers
    than the runs they are compared with."""
    before = dict(os.environ)
    yield
    if dict(os.environ) != before:
        os.environ.clear()
        os.environ.update(before)


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Prefect server for the whole session (`flows.server.prefect_server`, its state in a
    temporary folder): every flow the tests run, in this process or in a stage process, reports
    to it, instead of each process starting a temporary server of its own (about 8 s each)."""
    from flows.server import free_port, prefect_server

    home = tmp_path_factory.mktemp("prefect")
    (home / "prefect.toml").write_text('home = ".prefect"\n[server]\nanalytics_enabled = false\n')
    with prefect_server(free_port(), cwd=str(home)) as api:
        yield api


@pytest.fixture(scope="session")
def prefect_harness(prefect_api: str) -> Iterator[None]:
    """Flows run in the test process report to the session's server (`prefect_api`); their logs
    and events are sent before the server stops (as `prefect_test_harness` does)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows._stage import send_reports

    with temporary_settings({PREFECT_API_URL: prefect_api}):
        yield
        send_reports()


@pytest.fixture(scope="module")
def torch_one_thread() -> Iterator[None]:
    """Torch on one thread for a module of tiny convolutions: they gain little from a second
    thread, and OpenMP threads waiting for a core that another process holds spin (measured 4x
    slower on 2 busy cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
