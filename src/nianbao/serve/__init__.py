"""`nianbao serve`: the publication gate as an HTTP service and a Chinese upload page.

One module per concern: settings (the command line's limits), drafts (an upload saved where a parser
reads it), workers (parser processes within the ingest limits, replaced when one hangs or dies),
verdict (the rule kinds' SQL predicates over drafts in DuckDB, findings and exit code as the gate
builds them), page (the upload page, redrawing the tables as the agency pages do), app (the routes),
command (start-up). The CLI gate and the nightly stay on GX; the service answers in milliseconds.
"""
