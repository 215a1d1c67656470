"""Prefect flows, one per DVC stage (``python -m flows.<stage>``), plus the whole pipeline.

Prefect's settings for this project (state in ``.prefect/``, no analytics, the ephemeral
server's start-up time) live in ``prefect.toml`` at the project root, DVC's in ``.dvc/config``.
"""
