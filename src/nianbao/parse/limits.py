"""Limits on one file's parse: how a limit is set (flag, environment, default), and the memory cap.

Under the memory cap, a decompression bomb (a 2 MB PDF whose content stream inflates to 2 GB:
pdfminer inflates streams whole) or any reader's runaway allocation fails inside the parse with
MemoryError, and the file is rejected as `parser-out-of-memory`, instead of taking the machine's
memory until the kernel kills the process, and with it an ingest that parses in that process. The
cap is on the address space (RLIMIT_AS), set to what the process already has plus the budget for the
parse and restored after it: it is process-wide, so parse_file must not run beside other work in
other threads of the same process (nianbao parses in one thread per process). Where the platform has
no RLIMIT_AS, no cap.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

try:
    import resource
except ImportError:  # not on this platform: no cap
    resource = None  # type: ignore[assignment]

PARSE_MEMORY_ENV = "NIANBAO_PARSE_MEMORY"
# MB a parse may add to the process. Measured whole processes: a corpus PDF 45 MB, a 46 MB HTML page
# 390 MB, a 47 MB text 790 MB (files over 50 MB are not read); four parser processes at the full
# budget still fit a 24 GB machine.
DEFAULT_PARSE_MEMORY_MB = 4096


def limit_setting(value: float | str | None, env: str, default: float, what: str, unit: str, flag: str) -> float:
    """A limit: `value`, else $`env`, else `default`, as a finite number >= 0 (0 = none).

    Raises ValueError with a message for the user ('解析时限 'x' 不是秒数(--parse-timeout 或 …)')."""
    raw = value if value is not None else os.environ.get(env, default)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {raw!r} 不是{unit}({flag} 或 {env})") from None
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"{what} {raw!r} 必须是有限的非负{unit}(0 表示不限)")
    return number


def parse_memory(value: float | str | None = None) -> float:
    """MB one file's parse may allocate: `value`, else $NIANBAO_PARSE_MEMORY, else the default; 0 = no cap."""
    return limit_setting(value, PARSE_MEMORY_ENV, DEFAULT_PARSE_MEMORY_MB, "解析内存上限", "MB 数", "--parse-memory")


def _address_space() -> int | None:
    """Bytes of address space this process has now (Linux), or None where that cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def capped(mb: float) -> Iterator[None]:
    """Within the block, allocations past `mb` MB more than the process has now raise MemoryError."""
    size = _address_space() if resource is not None and mb > 0 else None
    if size is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + int(mb * 2**20)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:  # a tighter cap set outside: it stays
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
