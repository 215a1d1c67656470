"""Sharing a run's 2D keypoints through the DVC remote `shared` (docs/sharing.md): one command to
send, one to receive on a fresh clone of the same commit.

    python -m flows.share push [--remote URL]     # make share-keypoints [DVC_REMOTE=URL]
    python -m flows.share pull [--remote URL]     # make lift-shared-keypoints [DVC_REMOTE=URL]

``push`` sends the keypoint caches (`import_keypoints`, `infer_2d`) and the 2D networks they came
from (`train_detector`, `train_cpn`: the receiver's `dvc status` then finds every 2D stage up to
date, and ``pose3d predict`` runs there). ``pull`` fetches them, builds the labels from the
receiver's own copy of the data (`dvc repro extract`), says whether the 2D stages are up to date,
and runs the lifter's stages from the caches (`dvc repro --downstream lifting`), all reporting to
one Prefect server (PREFECT_API_URL's, else `flows.server`'s on ``--port``).

``--remote`` is where the remote is for this clone (a folder or a URL; kept in .dvc/config.local,
so a receiver passes the sender's once). Without it, .dvc/config's ``shared`` (a folder beside
the checkout) or an earlier ``--remote``. Exits with DVC's code where a DVC command fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REMOTE = "shared"  # the remote's name in .dvc/config
CACHES = ("import_keypoints", "infer_2d")  # the keypoint caches
NETWORKS = ("train_detector", "train_cpn")  # what made infer_2d's caches
LABELS = "extract"
LIFTER_FROM = "lifting"


class DvcFailed(RuntimeError):
    def __init__(self, cmd: Sequence[str], code: int) -> None:
        super().__init__(f"`{' '.join(cmd)}` failed with exit code {code}")
        self.code = code


def _dvc() -> str:
    dvc = Path(sys.executable).with_name("dvc")
    return str(dvc) if dvc.exists() else "dvc"


def dvc(*args: str, env: dict[str, str] | None = None) -> None:
    """Run ``dvc ARGS`` with its output on the terminal; DvcFailed when it fails."""
    cmd = [_dvc(), *args]
    print(f"+ dvc {' '.join(args)}", file=sys.stderr, flush=True)
    code = subprocess.call(cmd, env=env)
    if code != 0:
        raise DvcFailed(cmd, code)


def remote_url(url: str) -> str:
    """A local folder as an absolute path (DVC would read a relative one from .dvc/), a URL
    (``s3://...``) as given."""
    return url if "://" in url else str(Path(url).expanduser().resolve())


def set_remote(url: str | None) -> None:
    """Point `REMOTE` at `url` for this clone only (.dvc/config.local), where one is given."""
    if url:
        dvc("remote", "modify", "--local", REMOTE, "url", remote_url(url))


def stale_stages(targets: Sequence[str], env: dict[str, str] | None = None) -> list[str]:
    """The stages among `targets` and upstream of them that `dvc status` finds changed."""
    proc = subprocess.run(
        [_dvc(), "status", "--json", *targets], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise DvcFailed([_dvc(), "status", *targets], proc.returncode)
    return sorted(name.split(":")[-1] for name in json.loads(proc.stdout or "{}"))


def push(remote: str | None) -> None:
    set_remote(remote)
    dvc("push", *CACHES, *NETWORKS)
    print(
        "pushed the keypoint caches and the 2D networks; a colleague, on a clone of this "
        f"commit: make lift-shared-keypoints{f' DVC_REMOTE={remote}' if remote else ''}",
        file=sys.stderr,
    )


def pull(remote: str | None, port: int) -> None:
    from flows.server import prefect_server

    set_remote(remote)
    dvc("pull", *CACHES, *NETWORKS)
    given = os.environ.get("PREFECT_API_URL")
    with contextlib.nullcontext(given) if given else prefect_server(port) as api_url:
        env = os.environ | {"PREFECT_API_URL": api_url}
        dvc("repro", LABELS, env=env)
        stale = stale_stages(CACHES, env=env)
        if stale:
            print(
                f"not up to date here: {', '.join(stale)} (the shared caches were made by other "
                "code, params or data than this clone's); lifting from them as they are",
                file=sys.stderr,
            )
        else:
            print("every 2D stage is up to date with the shared caches", file=sys.stderr)
        dvc("repro", "--downstream", LIFTER_FROM, env=env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.share",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("push", "pull"))
    parser.add_argument("--remote", help="the remote's folder or URL, for this clone")
    parser.add_argument("--port", type=int, default=4200, help="pull: the Prefect server's port")
    args = parser.parse_args(argv)
    try:
        if args.action == "push":
            push(args.remote)
        else:
            pull(args.remote, args.port)
    except DvcFailed as err:
        print(f"{parser.prog} {args.action}: {err}", file=sys.stderr)
        return err.code
    except RuntimeError as err:  # no Prefect server
        parser.exit(1, f"{parser.prog} {args.action}: {err}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
