"""nianbao's GX plugins: custom expectations, the DuckDB fix, and (when present) actions and docs views.

GX only puts plugins/ on sys.path; it imports nothing. `nianbao.context.get_context()` imports this
package before loading any suite, so the custom expectation types are registered.
"""
from . import compat
from .expectations import (  # noqa: F401  importing registers the types with GX
    ExpectCellsToBePresent,
    ExpectCountsToBeNonNegativeIntegers,
    ExpectRowIdentities,
    ExpectZeroForLevels,
)

compat.apply_duckdb_fix()
compat.apply_configuration_fix()
compat.apply_column_fix()

from . import actions, docs_view  # noqa: E402,F401  registers the nianbao_pages action; GX index view
