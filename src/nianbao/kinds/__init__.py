"""The registry of rule kinds: each kind of rule is defined once, in its own module of this package.

A kind says, for every rule of its kind:
- which rows break it: an SQL predicate (nianbao.violations lists every row's broken rules with it);
- why, in Chinese, with fix advice: an Explanation of the printed values (nianbao.findings);
- how GX checks it: the expectation the suites hold (nianbao.suites), whose metric provider, with
  one method per engine (pandas, SQLAlchemy, Spark), sits in the kind's `gx` submodule.

The registry is found by scanning this package, so adding a kind touches its own module and nothing
else. The light half of a kind imports no GX: the findings query runs while GX is being imported.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from .base import Explanation, RuleKind

__all__ = ["Explanation", "RuleKind", "kind", "register_gx", "registry"]


@cache
def registry() -> dict[str, RuleKind]:
    """Every rule kind by name, from the modules of this package (sorted, so the order is stable)."""
    kinds = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found = module.KIND
        if found.name in kinds:
            raise RuntimeError(f"rule kind {found.name!r} defined twice ({info.name})")
        kinds[found.name] = found
    return kinds


def kind(name: str) -> RuleKind:
    """The rule kind called `name`; ValueError naming the known kinds otherwise."""
    try:
        return registry()[name]
    except KeyError:
        raise ValueError(f"unknown rule kind {name!r}; known: {sorted(registry())}") from None


def register_gx() -> None:
    """Import every kind's GX module, so that GX knows their expectations and metric providers."""
    for found in registry().values():
        found.gx()


def files(name: str) -> list[str]:
    """The files that define a kind, relative to the repository (src/nianbao/kinds/...)."""
    found = kind(name)
    root = Path(__file__).resolve().parents[3]
    return [Path(importlib.import_module(m).__file__).resolve().relative_to(root).as_posix() for m in found.modules()]
