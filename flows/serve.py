"""Deployments for starting runs from the Prefect UI: ``make ui`` in one shell, ``make serve``
in another, then open http://127.0.0.1:4200 -> Deployments -> pipeline -> Run.

The `pipeline` deployment runs ``dvc repro`` (optionally for chosen stages, optionally forced),
so runs started in the UI are versioned by DVC exactly like runs started from a shell.
"""

from __future__ import annotations

from flows.pipeline import pipeline_flow


def main() -> int:
    pipeline_flow.serve(name="dvc-repro", parameters={"targets": [], "force": False})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
