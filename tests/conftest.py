"""Shared fixtures. Real data lives beside the project at ../shared/data and is never copied."""

from __future__ import annotations

from pathlib import Path

import pytest

import flows  # noqa: F401  (PREFECT_HOME inside the repository, no analytics)

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
