"""Work split over forked worker processes, which see the parent's data without pickling it.

A bad night explains 300,000 findings and writes 50,000 agency pages in pure Python: forked workers
each take a share. Fork, not spawn: the workers need the parent's reports and findings as they are
(ingest's parser processes, which need none of that, are spawned; see nianbao.ingest).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

_JOB: tuple = ()  # (fn, shared) of the current map, read by the forked workers


def workers() -> int:
    """Worker processes to use: the machine's cores, at most 8."""
    return min(os.cpu_count() or 1, 8)


def _call(item):
    fn, shared = _JOB
    return fn(shared, item)


def forked_map(fn: Callable[[Any, Any], Any], shared: Any, items: Iterable, processes: int) -> list | None:
    """[fn(shared, item) for item in items] in `processes` forked workers; None when forking is not
    possible or a worker died (out of memory on a smaller machine, a native crash): the caller then
    does the work itself."""
    global _JOB
    if processes < 2 or "fork" not in mp.get_all_start_methods():
        return None
    _JOB = (fn, shared)
    try:
        with ProcessPoolExecutor(processes, mp_context=mp.get_context("fork")) as pool:
            return list(pool.map(_call, items))
    except BrokenProcessPool:
        return None
    finally:
        _JOB = ()
