"""`nianbao serve`: load the GX context and the checks once, start the parser processes, serve until stopped."""

from __future__ import annotations

import gc
import sys
import time

from ..exitcodes import ExitCode
from .settings import Settings

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def command(args) -> ExitCode:
    """`nianbao serve [--host H] [--port P] [--token T] [--max-upload-mb MB] ...`; returns when stopped."""
    try:
        settings = Settings.from_args(args)
    except (ValueError, OSError) as exc:
        print(f"nianbao serve: 用法错误:{exc}", file=sys.stderr)
        return ExitCode.USAGE
    started = time.perf_counter()
    try:
        service = _load(settings)
    except Exception as exc:  # a suite that lost expectations, a broken GX project: never serve a wrong gate
        print(f"nianbao serve: 配置错误,服务未启动:{type(exc).__name__}: {exc}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    import uvicorn

    from .app import create_app

    if settings.host not in LOOPBACK:
        print(f"注意:服务监听 {settings.host},本机以外也可访问;请配合 --token 或反向代理使用", file=sys.stderr)
    config = uvicorn.Config(
        create_app(service),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    print(
        f"nianbao serve:http://{settings.host}:{settings.port}/ (解析进程 {settings.parsers} 个,"
        f"上传上限 {settings.max_upload_bytes / 2**20:g} MB,{'需要' if settings.token else '不需要'}令牌;"
        f"载入 {time.perf_counter() - started:.1f} 秒)",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind (port in use): a runtime error, not a verdict
        return ExitCode.CONFIG_ERROR
    return ExitCode.OK if server.started else ExitCode.CONFIG_ERROR


def _load(settings: Settings):
    """The GX context (its suites verified), the rules its gate checkpoint judges, the prepared checks."""
    from ..context import get_context
    from .app import Service
    from .drafts import DraftStore
    from .verdict import DraftChecker, DraftChecks, judged_rules
    from .workers import ParserPool

    ctx = get_context()
    checks = DraftChecks(judged_rules(ctx))
    pool = ParserPool(settings.parsers, settings.max_waiting, settings.parse_timeout, settings.parse_memory_mb)
    service = Service(settings, pool, DraftChecker(checks), DraftStore(settings.keep_drafts))
    # What start-up made (GX's modules and context: millions of objects) lives as long as the service:
    # out of the collector's reach, so that a request's collections do not walk it (as a run does).
    gc.collect()
    gc.freeze()
    return service
