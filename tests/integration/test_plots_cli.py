"""`pose3d plots` (flows.cli) on a tiny DVC project: one self-contained page, written whole;
a clear message, and nothing written, before the pipeline has run, outside a DVC project or on a
broken dvc.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_plots import tiny_plots_repo

from flows.cli import main


def test_plots_writes_one_page_with_vega_inlined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tiny_plots_repo(tmp_path / "repo")
    (repo / "reference" / "history.csv").unlink()  # one of the two curves of a plot not run yet
    monkeypatch.chdir(repo)
    assert main(["plots"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("dvc_plots/index.html: 2 plot(s)")
    assert "not found yet, left out of the page: reference/history.csv" in err
    html = (repo / "dvc_plots" / "index.html").read_text()
    assert "cdn.jsdelivr.net" not in html and "<script src" not in html
    assert "window.vegaEmbed=" in html.replace(" ", "")
    assert html.count("vegaEmbed('#") == 2
    assert [p.name for p in repo.iterdir() if p.name.startswith(".dvc_plots")] == []


def test_plots_before_the_pipeline_ran_says_run_it_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tiny_plots_repo(tmp_path / "repo", with_data=False)
    monkeypatch.chdir(repo)
    assert main(["plots", "--out", "pages"]) == 1
    err = capsys.readouterr().err
    assert "no plot has data yet (history.csv, per_action.csv, reference/history.csv" in err
    assert "run the pipeline first (make run)" in err
    assert not (repo / "pages").exists()
    monkeypatch.chdir(tmp_path)  # no DVC project here
    assert main(["plots"]) == 1
    assert "no plots declared here: run in the project's folder" in capsys.readouterr().err
    monkeypatch.chdir(repo)
    (repo / "dvc.yaml").write_text("plots:\n  - loss: [\n")
    assert main(["plots"]) == 1
    assert "dvc plots show failed: YAMLSyntaxError: unable to read: 'dvc.yaml'" in (
        capsys.readouterr().err
    )
