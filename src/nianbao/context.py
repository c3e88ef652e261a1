"""Load the GX file context at the repository root, safely.

GX 1.24 traps handled here (each measured on GX 1.24.1):
- relative data paths resolve against the process cwd, so we chdir to the root;
- GX imports nothing from plugins/: a suite whose custom types are unregistered loads with zero
  expectations and a checkpoint would pass, so we import the plugins first and then verify that
  every suite holds as many expectations as its JSON file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .paths import EXPECTATIONS_DIR, ROOT


class ConfigurationError(RuntimeError):
    """The GX project is not in a state we can run (missing suite, dropped expectations...)."""


def _quiet_environment() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def get_context():
    """The FileDataContext at ROOT, with our plugins registered and every suite verified."""
    _quiet_environment()
    os.chdir(ROOT)
    import great_expectations as gx

    import nianbao_plugins  # noqa: F401  registers custom expectations, actions, the DuckDB fix

    ctx = gx.get_context(mode="file", context_root_dir=str(ROOT))
    verify_suites(ctx)
    return ctx


def suite_files(directory: Path = EXPECTATIONS_DIR) -> dict[str, int]:
    """Expectation count of each suite file on disk, by suite name."""
    counts = {}
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        counts[doc["name"]] = len(doc.get("expectations", []))
    return counts


def verify_suites(ctx, directory: Path = EXPECTATIONS_DIR) -> None:
    """Raise ConfigurationError unless every suite loaded all the expectations its file holds."""
    on_disk = suite_files(directory)
    if not on_disk:
        raise ConfigurationError(f"no expectation suites in {directory}")
    for name, expected in on_disk.items():
        loaded = len(ctx.suites.get(name).expectations)
        if loaded != expected:
            raise ConfigurationError(
                f"suite {name!r} loaded {loaded} of {expected} expectations from {directory / (name + '.json')}: "
                "a custom expectation type is not registered (is nianbao_plugins importable?)"
            )
