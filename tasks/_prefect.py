"""Prefect glue shared by the tasks: the task decorator, logging and progress reporting."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from tqdm import tqdm

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def stage_task(fn: F, retries: int = 0, name: str | None = None) -> Any:
    """Wrap a plain function as an uncached Prefect task (it may write files)."""
    decorate = task(name=name or fn.__name__, cache_policy=NO_CACHE, retries=retries)
    return decorate(fn)


def logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The Prefect run logger inside a flow or task, the module logger outside."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("pose3d")


_WARNED: set[str] = set()


def warn_once(message: str) -> None:
    """A warning said once per process (the ablation trains a dozen lifters on the same rows);
    later repeats are logged at debug level."""
    if message in _WARNED:
        logger().debug("%s", message)
        return
    _WARNED.add(message)
    logger().warning("%s", message)


def progress(items: Iterable[T], total: int | None, desc: str, every: float = 0.1) -> Iterator[T]:
    """Iterate with a progress bar in a terminal, or a log line every `every` of the way."""
    if sys.stderr.isatty():
        yield from tqdm(items, total=total, desc=desc, dynamic_ncols=True)
        return
    log = logger()
    total = total or 0
    step = max(1, int(total * every)) if total else 0
    done = 0
    for item in items:
        yield item
        done += 1
        if step and (done % step == 0 or done == total):
            log.info("%s: %d/%d (%.0f%%)", desc, done, total, 100.0 * done / total)
    if not step:
        log.info("%s: %d done", desc, done)
