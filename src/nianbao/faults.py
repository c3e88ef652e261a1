"""Deterministic faults for tests: die at a named step like a killed process, or stall there."""

from __future__ import annotations

import os
import signal
import time

CRASH_ENV = "NIANBAO_TEST_CRASH_AT"  # the step at which to SIGKILL this process
STALL_ENV = "NIANBAO_TEST_STALL_AT"  # the step at which to wait until killed


def crash_point(name: str) -> None:
    """Test hook: die here like a killed process (no cleanup, no finally) when asked to."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def stall_point(name: str) -> None:
    """Test hook: wait here until killed (a parse that never ends) when asked to."""
    while os.environ.get(STALL_ENV) == name:
        time.sleep(3600)
