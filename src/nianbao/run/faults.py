"""Deterministic faults for tests: die at a named step like a killed process."""

from __future__ import annotations

import os
import signal

CRASH_ENV = "NIANBAO_TEST_CRASH_AT"  # the step at which to SIGKILL this process


def crash_point(name: str) -> None:
    """Test hook: die here like a killed process (no cleanup, no finally) when asked to."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
