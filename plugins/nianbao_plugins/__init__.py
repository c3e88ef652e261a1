"""nianbao's GX plugins: the rule kinds' expectations, the GX 1.24.1 fixes, the docs action and index view.

GX only puts plugins/ on sys.path; it imports nothing. `nianbao.context.get_context()` imports this
package before loading any suite, so the custom expectation types are registered. The expectations
and their metric providers are defined by the rule kinds (nianbao.kinds, one module each).
"""

from nianbao.kinds import register_gx

from . import compat

register_gx()  # every rule kind's expectation and metric provider
compat.apply_duckdb_fix()
compat.apply_configuration_fix()
compat.apply_column_fix()

from . import actions, docs_view  # noqa: E402,F401  registers the docs action; GX's index view
