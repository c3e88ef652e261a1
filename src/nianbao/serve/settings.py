"""The service's settings: where it listens, its limits and its token, from the command line and env."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..ingest_file import parse_timeout
from ..parse.limits import parse_memory

TOKEN_ENV = "NIANBAO_SERVE_TOKEN"  # the shared token of a CMS, when not given as --token (ps shows flags)
DEFAULT_HOST = "127.0.0.1"  # loopback unless told otherwise: an agency's drafts are not public
DEFAULT_PORT = 8080
DEFAULT_MAX_UPLOAD_MB = 50.0  # ingest reads no file over 50 MB either
DEFAULT_MAX_WAITING = 64  # drafts queued for a parser beyond the ones parsing; more get 503


def default_parsers() -> int:
    """Parser processes: the machine's cores, at most 4 (each may take the whole parse memory budget)."""
    return max(1, min(os.cpu_count() or 1, 4))


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    max_upload_bytes: int = int(DEFAULT_MAX_UPLOAD_MB * 2**20)
    parsers: int = 1
    max_waiting: int = DEFAULT_MAX_WAITING
    parse_timeout: float = 300.0  # seconds (the ingest limit; 0 = none)
    parse_memory_mb: float = 4096.0  # MB (the ingest limit; 0 = none)
    keep_drafts: Path | None = None

    @classmethod
    def from_args(cls, args) -> Settings:
        """Settings of `nianbao serve`'s options; ValueError naming a bad value."""
        if args.max_upload_mb <= 0:
            raise ValueError(f"--max-upload-mb 必须大于 0:{args.max_upload_mb}")
        if args.parsers is not None and args.parsers < 1:
            raise ValueError(f"--parsers 至少为 1:{args.parsers}")
        if args.max_waiting < 0:
            raise ValueError(f"--max-waiting 不能为负:{args.max_waiting}")
        keep = Path(args.keep_drafts).resolve() if args.keep_drafts else None
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
        return cls(
            host=args.host,
            port=args.port,
            token=args.token or os.environ.get(TOKEN_ENV) or None,
            max_upload_bytes=int(args.max_upload_mb * 2**20),
            parsers=args.parsers or default_parsers(),
            max_waiting=args.max_waiting,
            parse_timeout=parse_timeout(args.parse_timeout),
            parse_memory_mb=parse_memory(args.parse_memory),
            keep_drafts=keep,
        )
