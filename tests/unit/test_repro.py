"""tasks.repro: a failed `dvc repro` raises with DVC's own error lines, not only its exit code."""

from __future__ import annotations

import pytest

from tasks.repro import dvc_repro


def test_failed_repro_carries_dvcs_error_message(tmp_path) -> None:
    # tmp_path is no DVC repository, so the real dvc fails with a message of its own
    with pytest.raises(RuntimeError) as err:
        dvc_repro(["extract"], cwd=tmp_path)
    message = str(err.value)
    assert "repro extract` failed with exit code" in message
    assert "ERROR: you are not inside of a DVC repository" in message
