"""Shared fixtures. Real data lives beside the project at ../shared/data and is never copied."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server and database for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


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
