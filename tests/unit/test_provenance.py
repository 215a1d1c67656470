"""Provenance: a module's code closure and its digest."""

from __future__ import annotations

from pathlib import Path

from tasks import provenance


def test_closure_follows_our_imports_only(tmp_path: Path) -> None:
    (tmp_path / "pose3d").mkdir()
    (tmp_path / "tasks").mkdir()
    (tmp_path / "pose3d" / "a.py").write_text("import numpy\nfrom pose3d import b\n")
    (tmp_path / "pose3d" / "b.py").write_text("X = 1\n")
    (tmp_path / "pose3d" / "c.py").write_text("Y = 2\n")
    (tmp_path / "tasks" / "t.py").write_text("from pose3d.a import thing\n")
    found = provenance.closure(tmp_path / "tasks" / "t.py", tmp_path)
    assert [str(p) for p in found] == ["pose3d/a.py", "pose3d/b.py", "tasks/t.py"]


def test_code_files_and_producer_of_a_stage() -> None:
    files = provenance.code_files("tasks.train_lifter")
    assert "models/lifter.py" in files and "pose3d/lifting/augment.py" in files
    assert "tasks/evaluate.py" not in files
    made_by = provenance.producer("lifting", "tasks.lifting", {"lifting": {"x": 1}})
    assert made_by["stage"] == "lifting" and len(made_by["code_sha256"]) == 64
    assert made_by["code_sha256"] == provenance.code_digest("tasks.lifting")
    assert made_by["code_sha256"] != provenance.code_digest("tasks.extract")
