"""An uploaded draft saved where a parser process reads it: a private temporary folder, deleted after the
parse, or `--keep-drafts DIR`, where it stays. The uploaded name is shown, never used as a path."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

JSON_SUFFIX = ".json"
FILE, JSON = "file", "json"  # a report file of any kind ingest reads; a document of `nianbao parse --json`'s shape


@dataclass(frozen=True)
class Draft:
    path: Path  # the saved bytes, named by the service
    name: str  # the name it was uploaded under (shown on the page and in the answer)
    kind: str  # FILE or JSON
    kept: bool  # saved under --keep-drafts: never deleted


def suffix_of(name: str) -> str:
    """The uploaded name's suffix when it is one the parsers know (it decides text against Markdown),
    else none: the parser tells the kind by the content."""
    from ..ingest import REPORT_SUFFIXES  # here: parser processes import this module, and ingest imports pyarrow

    suffix = Path(name).suffix.lower()
    return suffix if suffix in (*REPORT_SUFFIXES, JSON_SUFFIX) else ""


class DraftStore:
    """Where uploads are saved: a folder of this process only (mode 700), or the --keep-drafts folder."""

    def __init__(self, keep: Path | None = None):
        self.keep = keep
        self.private = Path(tempfile.mkdtemp(prefix="nianbao-serve-"))
        self._numbers = itertools.count()

    def save(self, source: BinaryIO | bytes, name: str, kind: str) -> Draft:
        """Write one upload (a file object or bytes) to a new file; blocking, so called off the event loop."""
        folder = self.keep or self.private
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = folder / f"{stamp}-{next(self._numbers)}{suffix_of(name) or ('.json' if kind == JSON else '')}"
        with open(path, "xb") as out:
            if isinstance(source, bytes):
                out.write(source)
            else:
                shutil.copyfileobj(source, out, 1 << 20)
        return Draft(path, name, kind, self.keep is not None)

    def discard(self, draft: Draft) -> None:
        """Delete a draft once checked, unless drafts are kept."""
        if not draft.kept:
            draft.path.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.private, ignore_errors=True)
