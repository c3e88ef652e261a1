"""A memory budget for one file's parse.

A decompression bomb (a 2 MB PDF whose content stream inflates to 2 GB: pdfminer inflates streams
whole) or any reader's runaway allocation then fails inside the parse with MemoryError, and the file
is rejected as `parser-out-of-memory`, instead of taking the machine's memory until the kernel kills
the process, and with it an ingest that parses in that process. The cap is on the address space
(RLIMIT_AS), set to what the process already has plus the budget for the parse and restored after
it: it is process-wide, so parse_file must not run beside other work in other threads of the same
process (nianbao parses in one thread per process). Where the platform has no RLIMIT_AS, no cap.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

try:
    import resource
except ImportError:   # not on this platform: no cap
    resource = None   # type: ignore[assignment]

PARSE_MEMORY_ENV = "NIANBAO_PARSE_MEMORY"
# MB a parse may add to the process. The corpus's PDFs, the largest HTML pages and a 50 MB text take
# a few hundred at most; four parser processes at the full budget still fit a 24 GB machine.
DEFAULT_PARSE_MEMORY_MB = 4096


def parse_memory(value: float | str | None = None) -> float:
    """MB one file's parse may allocate: `value`, else $NIANBAO_PARSE_MEMORY, else the default; 0 = no cap.

    Raises ValueError with a message for the user on a value that is not a finite non-negative number."""
    raw = value if value is not None else os.environ.get(PARSE_MEMORY_ENV, DEFAULT_PARSE_MEMORY_MB)
    try:
        mb = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"解析内存上限 {raw!r} 不是 MB 数(--parse-memory 或 {PARSE_MEMORY_ENV})") from None
    if not mb >= 0 or mb == float("inf"):
        raise ValueError(f"解析内存上限 {raw!r} 必须是有限的非负 MB 数(0 表示不限)")
    return mb


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
    if soft != resource.RLIM_INFINITY and soft <= cap:   # a tighter cap set outside: it stays
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
