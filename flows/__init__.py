"""Prefect flows, one per DVC stage (``python -m flows.<stage>``), plus the whole pipeline.

Importing this package (``python -m flows.<stage>`` does so first) applies the project's
environment defaults before Prefect loads, so a bare ``dvc repro`` behaves like ``make run``:
Prefect state lives in ``.prefect/`` inside the repository and no analytics are sent. Values
already set in the environment win.
"""

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
for _key, _value in {
    "PREFECT_HOME": str(_ROOT / ".prefect"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "DVC_NO_ANALYTICS": "1",
    "DO_NOT_TRACK": "1",
}.items():
    os.environ.setdefault(_key, _value)
