"""tasks.repro: a failed `dvc repro` raises with DVC's own error lines, not only its exit code; a
run with params overrides is a DVC experiment in a temporary copy that leaves the workspace byte
for byte as it was, is named, and publishes its own metrics and figures, not the workspace's."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tasks.repro import Repro, collect_results, dvc_repro, experiment_name, repro_command

# A one-stage DVC repository whose metrics and figure depend on one param.
STAGE = """import json
from pathlib import Path

import yaml
from PIL import Image

lr = yaml.safe_load(Path("params.yaml").read_text())["train"]["lr"]
out = Path("data/train")
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text(json.dumps({"loss": lr * 2, "nested": {"lr": lr}}))
Image.new("RGB", (round(lr * 100), 10)).save(out / "curve.png")
"""
PIPELINE = {
    "stages": {
        "train": {
            "cmd": f"{sys.executable} train.py",
            "deps": ["train.py"],
            "params": ["train.lr"],
            "metrics": [{"data/train/metrics.json": {"cache": False}}],
            "outs": ["data/train/curve.png"],
        }
    }
}
WORKSPACE = ("params.yaml", "dvc.yaml", "dvc.lock", "train.py", "data")


def _run(repo: Path, *cmd: str) -> str:
    return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout


def _workspace(repo: Path) -> dict[str, bytes]:
    """Every file the user sees (params, pipeline, lock, data/) and `git status`, as bytes."""
    files = [repo / name for name in WORKSPACE if (repo / name).is_file()]
    files += sorted(p for p in (repo / "data").rglob("*") if p.is_file())
    seen = {str(p.relative_to(repo)): p.read_bytes() for p in files}
    seen["git status"] = _run(repo, "git", "status", "--porcelain").encode()
    return seen


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], Repro]:
    """The one-stage repository, run (`dvc repro`) and committed with train.lr=0.1, then an
    experiment with train.lr=0.5: (repository, its workspace before the experiment, the
    experiment's `Repro`)."""
    repo = tmp_path_factory.mktemp("toy")
    (repo / "params.yaml").write_text("train:\n  lr: 0.1  # a comment DVC would drop\n")
    (repo / "dvc.yaml").write_text(yaml.safe_dump(PIPELINE, sort_keys=False))
    (repo / "train.py").write_text(STAGE)
    git = ("git", "-c", "user.name=t", "-c", "user.email=t@t")
    _run(repo, "git", "init", "-q")
    _run(repo, sys.executable, "-m", "dvc", "init", "-q")
    assert dvc_repro(cwd=repo) == Repro(["train"])  # no overrides: `dvc repro` in the workspace
    _run(repo, *git, "add", "-A")
    _run(repo, *git, "commit", "-qm", "lr 0.1")
    before = _workspace(repo)
    return repo, before, dvc_repro(["train"], cwd=repo, overrides=["train.lr=0.5"])


def test_failed_repro_carries_dvcs_error_message(tmp_path) -> None:
    # tmp_path is no DVC repository, so the real dvc fails with a message of its own
    with pytest.raises(RuntimeError) as err:
        dvc_repro(["extract"], cwd=tmp_path)
    message = str(err.value)
    assert "repro extract` failed with exit code" in message
    assert "ERROR: you are not inside of a DVC repository" in message


def test_overrides_run_as_an_experiment_in_a_temporary_copy() -> None:
    assert repro_command(["evaluate"], False, ["evaluate.examples=1"])[1:] == [
        "exp", "run", "--temp", "-Sevaluate.examples=1", "evaluate",
    ]  # fmt: skip


def test_the_experiments_name_is_read_from_dvcs_output() -> None:
    said = ["Reproducing experiment 'inane-hull'", "Running stage 'train':", "",
            "Ran experiment(s): inane-hull", "To apply the results of an experiment to your "
            "workspace run:", "", "\tdvc exp apply <exp>"]  # fmt: skip
    assert experiment_name(said) == "inane-hull"
    assert experiment_name(said[:3]) is None


def test_an_experiment_leaves_the_workspace_as_it_was(
    experiment: tuple[Path, dict[str, bytes], Repro],
) -> None:
    repo, before, run = experiment
    assert run.stages == ["train"] and run.experiment is not None
    assert _workspace(repo) == before  # params.yaml (its comment too), dvc.lock, data/, git
    shown = json.loads(_run(repo, sys.executable, "-m", "dvc", "exp", "show", "--json"))
    names = {r["name"] for row in shown for e in row.get("experiments") or [] for r in e["revs"]}
    assert run.experiment in names  # DVC recorded it under the name the run reports


def test_an_experiments_results_are_its_own_not_the_workspaces(
    experiment: tuple[Path, dict[str, bytes], Repro],
) -> None:
    repo, _, run = experiment
    results = collect_results(repo, run.experiment)
    assert results.problem is None and results.experiment == run.experiment
    assert results.metrics == {"data/train/metrics.json": {"loss": 1.0, "nested": {"lr": 0.5}}}
    assert results.baseline == {"data/train/metrics.json": {"loss": 0.2, "nested": {"lr": 0.1}}}
    assert Image.open(io.BytesIO(results.figures["data/train/curve.png"])).size == (50, 10)
    workspace = collect_results(repo)
    assert workspace.metrics == results.baseline and workspace.baseline == {}
    assert Image.open(io.BytesIO(workspace.figures["data/train/curve.png"])).size == (10, 10)
