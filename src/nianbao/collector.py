"""Pausing Python's garbage collector around work that makes many objects and no reference cycles.

A bad night builds hundreds of thousands of findings, rows and pages; an ingest keeps every new value
in Python lists until it becomes Arrow. None of them form cycles, so refcounting frees them, and each
collection would only walk them again (measured: a fifth of explaining a bad night's findings).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def paused():
    """Collector off inside the block; back as it was afterwards (so pauses nest)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
