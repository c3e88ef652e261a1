"""The service's routes: the gate (`POST /api/gate`), the rule catalogue, health, the upload page.

Every answer a client can cause is a 2xx or 4xx with a Chinese reason: a verdict, whatever it says, is a
200; a draft the parser cannot read is a 422 with the parse reason; an upload over the limit a 413;
a missing or wrong token a 401; more drafts than the parsers and their waiting line take a 503 with
Retry-After. An unforeseen error is a 500 that names no internals (the traceback goes to the log).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..ingest import META_KEYS, ManifestError, clean_meta
from . import answers, page
from .drafts import FILE, JSON, JSON_SUFFIX, DraftStore
from .settings import Settings
from .verdict import DraftChecker, Verdict
from .workers import Busy, ParserPool

log = logging.getLogger("nianbao.serve")

PASTED_NAME = "粘贴的文字.txt"
TOKEN_HEADER = "x-nianbao-token"
RETRY_AFTER_SECONDS = "2"
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
TOO_LARGE = "上传内容超过 {mb:g} MB 上限,未读取;请上传不超过 {mb:g} MB 的文件"


class Refused(Exception):
    """A request answered with a 4xx or 5xx and a Chinese reason, before any verdict."""

    def __init__(self, status: int, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


@dataclass
class Service:
    """What the routes share: settings, the parser processes, the checker thread, where drafts go."""

    settings: Settings
    pool: ParserPool
    checker: DraftChecker
    store: DraftStore


class UploadLimit:
    """ASGI middleware: a request body over the limit is refused with 413 before the route reads it
    (Content-Length), or as soon as it passes the limit while being read (a body sent in chunks)."""

    def __init__(self, app, max_bytes: int, token_required: bool):
        self.app, self.max_bytes, self.token_required = app, max_bytes, token_required

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await _too_large(scope, self.max_bytes, self.token_required)(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    scope["nianbao.too_large"] = True
                    raise Refused(413, TOO_LARGE.format(mb=self.max_bytes / 2**20))
            return message

        return await self.app(scope, counted, send)


def _too_large(scope, max_bytes: int, token_required: bool) -> Response:
    detail = TOO_LARGE.format(mb=max_bytes / 2**20)
    if scope.get("path") == "/":
        return HTMLResponse(
            page.upload_page(token_required=token_required, max_mb=max_bytes / 2**20, refusal=detail),
            413,
            headers={**NO_STORE, "Content-Security-Policy": page.CSP_HEADER, "Connection": "close"},
        )
    return JSONResponse({"detail": detail}, 413, headers={**NO_STORE, "Connection": "close"})


GATE_REQUEST = {
    "requestBody": {
        "required": True,
        "description": "报告草稿:multipart 上传(字段 file,任意 ingest 可读的格式,或 JSON),或粘贴的文字(字段 text);"
        "也可直接以 application/json 发送 `nianbao parse --json` 格式的文档(元数据用查询参数)",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "报告文件"},
                        "text": {"type": "string", "description": "粘贴的报告文字"},
                        "agency": {"type": "string"},
                        "region": {"type": "string"},
                        "year": {"type": "integer"},
                        "level": {"type": "string", "description": "行政层级(键或中文名称)"},
                    },
                }
            },
            "application/json": {"schema": {"type": "object", "description": "`nianbao parse --json` 的输出"}},
        },
    },
    "parameters": [
        {"name": k, "in": "query", "required": False, "schema": {"type": "string"}, "description": "报告元数据"}
        for k in META_KEYS
    ],
}
REFUSALS = {
    401: {"model": answers.Refusal, "description": "缺少或错误的访问令牌"},
    413: {"model": answers.Refusal, "description": "上传超过大小上限"},
    422: {"model": answers.GateAnswer, "description": "草稿无法解析(附解析原因),或请求不完整"},
    503: {"model": answers.Refusal, "description": "解析进程全忙且排队已满,请稍后重试"},
}


def create_app(service: Service) -> FastAPI:
    """The FastAPI application over a started service (parsers are started in its lifespan)."""
    settings = service.settings

    @asynccontextmanager
    async def lifespan(app):
        await service.pool.start()
        try:
            yield
        finally:
            service.pool.close()
            service.checker.close()
            service.store.close()

    app = FastAPI(
        title="nianbao 发布前检查服务",
        description="政府信息公开工作年度报告的发布前检查:与 `nianbao gate` 相同的规则、结论与退出码。",
        version="1",
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN: the service stays offline
        redoc_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes, token_required=bool(settings.token))

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        return _refusal(request, exc.status, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        where = "、".join(".".join(str(x) for x in e.get("loc", ())) for e in exc.errors()[:5])
        return _refusal(request, 422, f"请求格式不正确:{where}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = {404: "没有这个地址", 405: "不支持此请求方法"}.get(exc.status_code, str(exc.detail))
        return _refusal(request, exc.status_code, detail)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        if request.scope.get("nianbao.too_large"):  # the body passed the limit inside a form parser
            return _too_large(request.scope, settings.max_upload_bytes, bool(settings.token))
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _refusal(request, 500, "服务内部错误,已记入日志;请联系维护人员")

    def _refusal(request: Request, status: int, detail: str, headers: dict | None = None) -> Response:
        headers = {**NO_STORE, **(headers or {})}
        if request.url.path == "/" and request.method == "POST":
            html = page.upload_page(
                token_required=bool(settings.token), max_mb=settings.max_upload_bytes / 2**20, refusal=detail
            )
            return HTMLResponse(html, status, headers={**headers, "Content-Security-Policy": page.CSP_HEADER})
        return JSONResponse({"detail": detail}, status, headers=headers)

    def check_token(given: str | None) -> None:
        if settings.token is None:
            return
        # Constant time: how long a comparison takes must not tell how much of a guess was right.
        if given is None or not hmac.compare_digest(given.encode("utf-8"), settings.token.encode("utf-8")):
            raise Refused(401, "缺少或错误的访问令牌", {"WWW-Authenticate": "Bearer"})

    def header_token(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.headers.get(TOKEN_HEADER)

    async def gate(request: Request, token_field: bool) -> Verdict:
        """Read the draft from the request, parse it in a parser process, check it: its verdict."""
        if not token_field:
            check_token(header_token(request))
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            meta_source = dict(request.query_params)
            body = await request.body()
            draft = await asyncio.to_thread(service.store.save, body, "draft.json", JSON)
        elif kind == "multipart/form-data":
            form = await request.form(max_files=1, max_fields=16, max_part_size=settings.max_upload_bytes)
            if token_field:
                check_token(_text(form.get("token")) or header_token(request))
            meta_source = {k: _text(form.get(k)) for k in META_KEYS}
            upload, pasted = form.get("file"), _text(form.get("text"))
            if isinstance(upload, UploadFile) and upload.filename:
                name = upload.filename
                is_json = name.lower().endswith(JSON_SUFFIX) or (upload.content_type or "") == "application/json"
                draft = await asyncio.to_thread(service.store.save, upload.file, name, JSON if is_json else FILE)
            elif pasted and pasted.strip():
                draft = await asyncio.to_thread(service.store.save, pasted.encode("utf-8"), PASTED_NAME, FILE)
            else:
                raise Refused(422, "请上传报告文件(字段 file)或粘贴报告文字(字段 text)")
        else:
            raise Refused(415, "请以 multipart/form-data(字段 file 或 text)或 application/json 发送草稿")
        try:
            meta = clean_meta({k: v for k, v in meta_source.items() if k in META_KEYS and v}, "请求参数")
        except ManifestError as exc:
            service.store.discard(draft)
            raise Refused(422, str(exc)) from None
        try:
            parsed = await service.pool.parse(draft, meta)
        except Busy:
            raise Refused(
                503,
                f"服务繁忙:{settings.parsers} 份草稿正在解析,{settings.max_waiting} 份在排队;请稍后再试",
                {"Retry-After": RETRY_AFTER_SECONDS},
            ) from None
        finally:
            service.store.discard(draft)
        verdict = await asyncio.wrap_future(service.checker.submit(parsed))
        verdict.timings_ms["parse"] = parsed.parse_ms
        return verdict

    @app.post(
        "/api/gate",
        response_model=answers.GateAnswer,
        responses=REFUSALS,
        openapi_extra=GATE_REQUEST,
        summary="检查一份报告草稿",
    )
    async def api_gate(request: Request):
        """The gate's verdict on one draft: 200 whatever it says; 422 when the parser could not read it."""
        verdict = await gate(request, token_field=False)
        body = answers.gate_answer(verdict).model_dump(mode="json")
        status = 422 if verdict.report.status == "rejected" else 200
        return JSONResponse(body, status, headers=NO_STORE)

    @app.get("/api/rules", response_model=answers.RulesAnswer, summary="规则目录")
    async def api_rules():
        return RULES

    @app.get("/healthz", response_model=answers.Health, summary="服务状态")
    async def healthz():
        alive = service.checker.thread.is_alive()
        body = answers.Health(
            status="ok" if alive else "degraded", checked=service.checker.drafts, **service.pool.health()
        )
        return JSONResponse(body.model_dump(), 200 if alive else 503, headers=NO_STORE)

    @app.get("/", response_class=HTMLResponse, summary="上传页面")
    async def upload_form():
        html = page.upload_page(token_required=bool(settings.token), max_mb=settings.max_upload_bytes / 2**20)
        return HTMLResponse(html, headers={**NO_STORE, "Content-Security-Policy": page.CSP_HEADER})

    @app.post("/", response_class=HTMLResponse, summary="上传页面:检查结果", openapi_extra=GATE_REQUEST)
    async def upload_result(request: Request):
        verdict = await gate(request, token_field=True)
        html = page.upload_page(
            token_required=bool(settings.token), max_mb=settings.max_upload_bytes / 2**20, verdict=verdict
        )
        status = 422 if verdict.report.status == "rejected" else 200
        return HTMLResponse(html, status, headers={**NO_STORE, "Content-Security-Policy": page.CSP_HEADER})

    RULES = answers.rules_answer()
    return app


def _text(value) -> str | None:
    """A form field as text (None for a missing field or a file where text was expected)."""
    return value if isinstance(value, str) else None
