"""Where things are: the repository root is the GX context root."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The GX context root: $NIANBAO_ROOT, else the checkout this package was installed from."""
    env = os.environ.get("NIANBAO_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "great_expectations.yml").is_file():
            return parent
    raise RuntimeError(f"great_expectations.yml not found above {here}; set NIANBAO_ROOT")


ROOT = project_root()
DATA_DIR = ROOT / "data"
UNCOMMITTED = ROOT / "uncommitted"
EXPECTATIONS_DIR = ROOT / "expectations"
RUNS_DIR = UNCOMMITTED / "runs"
SITE_DIR = UNCOMMITTED / "data_docs" / "local_site"
