"""Notifications after a run: one message per run about its new findings, by webhook and/or e-mail.

Only findings whose history is `new` (not seen in the previous comparable run) and that no waiver
covers are announced: an auditor who already knows a finding should not hear of it every night. A run
with nothing new sends nothing. Nothing is sent unless a receiver is configured, in `[tool.nianbao.notify]`
of the project's pyproject.toml or with `nianbao run --notify-webhook/--notify-email` (docs/notify.md).

A receiver that fails never changes the run's exit code: the run's verdict is about the reports, not
about the chat server. Each delivery's outcome is returned for run_results.json and printed in Chinese.

Webhook formats: `json` (our own shape, for scripts), `wecom` (企业微信 group robot, markdown) and
`dingtalk` (钉钉 custom robot, markdown, optionally signed with the robot's secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

FORMATS = ("json", "wecom", "dingtalk")
DEFAULT_MAX_FINDINGS = 20
TIMEOUT_S = 10.0
# 企业微信 rejects a markdown message over 4096 bytes; 钉钉 accepts about 20000.
MAX_BYTES = {"wecom": 4000, "dingtalk": 18000, "json": 10**9, "email": 10**9}
ENV_DINGTALK_SECRET = "NIANBAO_DINGTALK_SECRET"
ENV_SMTP = ("NIANBAO_SMTP_HOST", "NIANBAO_SMTP_PORT", "NIANBAO_SMTP_USER", "NIANBAO_SMTP_PASSWORD")
SEVERITY_ZH = {"error": "错误", "warn": "警告"}


class NotifyConfigError(ValueError):
    """The notification settings are wrong (a usage problem, reported before anything is sent)."""


@dataclass(frozen=True)
class Webhook:
    url: str
    format: str = "json"
    secret: str | None = None  # 钉钉 signing secret (from the environment, never from a committed file)


@dataclass(frozen=True)
class Settings:
    webhooks: tuple[Webhook, ...] = ()
    email_to: tuple[str, ...] = ()
    max_findings: int = DEFAULT_MAX_FINDINGS
    site_url: str | None = None  # where auditors open the landing page; else its path on this machine

    @property
    def configured(self) -> bool:
        return bool(self.webhooks or self.email_to)


@dataclass
class Delivery:
    """One receiver's outcome, as recorded in run_results.json."""

    channel: str  # webhook | email
    target: str  # the webhook without its query (a token lives there) or the recipients
    format: str
    ok: bool
    error: str = ""
    status: int | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Summary:
    """What one message says: the run, counts, and the new findings grouped by region and agency."""

    run_id: str
    checkpoint: str
    exit_code: int
    new: list[dict]
    counts: dict
    landing_page: str
    groups: list[dict] = field(default_factory=list)


# --- settings ---------------------------------------------------------------------------------------


def _as_tuple(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def _webhook(url: str, fmt: str | None, secret_env: str | None = None) -> Webhook:
    fmt = fmt or "json"
    if fmt not in FORMATS:
        raise NotifyConfigError(f"通知格式 {fmt!r} 无效;可用:{'/'.join(FORMATS)}")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise NotifyConfigError(f"通知地址 {redact(url)} 不是 http(s) 地址")
    secret = os.environ.get(secret_env or ENV_DINGTALK_SECRET) if fmt == "dingtalk" else None
    return Webhook(url, fmt, secret or None)


def settings(
    project: dict | None,
    *,
    webhooks: Iterable[str] = (),
    webhook_format: str | None = None,
    email_to: Iterable[str] = (),
    disabled: bool = False,
) -> Settings:
    """The run's notification settings: the command line's receivers replace the project's of the same
    kind (a one-off run to a test channel must not also post to the production one)."""
    if disabled:
        return Settings()
    project = project or {}
    cli_hooks = [_webhook(u, webhook_format) for u in webhooks]
    if cli_hooks:
        hooks = cli_hooks
    else:
        configured = project.get("webhook") or []
        if isinstance(configured, dict | str):
            configured = [configured]
        hooks = [
            _webhook(h, None) if isinstance(h, str) else _webhook(h["url"], h.get("format"), h.get("secret_env"))
            for h in configured
        ]
    try:
        max_findings = int(project.get("max_findings", DEFAULT_MAX_FINDINGS))
    except (TypeError, ValueError) as exc:
        raise NotifyConfigError("[tool.nianbao.notify] max_findings 必须是整数") from exc
    return Settings(
        webhooks=tuple(hooks),
        email_to=_as_tuple(list(email_to) or project.get("email_to")),
        max_findings=max(0, max_findings),
        site_url=project.get("site_url"),
    )


def project_settings(root) -> dict:
    """`[tool.nianbao.notify]` of ROOT/pyproject.toml ({} when the file or the table is absent)."""
    import tomllib

    try:
        with open(root / "pyproject.toml", "rb") as fh:
            return tomllib.load(fh).get("tool", {}).get("nianbao", {}).get("notify", {}) or {}
    except OSError:
        return {}
    except ValueError as exc:
        raise NotifyConfigError(f"pyproject.toml 无法读取:{exc}") from exc


def redact(url: str) -> str:
    """A webhook's address without query or credentials: 企业微信's key and 钉钉's token are secrets."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


# --- the message ------------------------------------------------------------------------------------


def new_findings(findings) -> list[dict]:
    """The findings to announce: new in this run and not waived, in a stable order."""
    if findings is None or len(findings) == 0:
        return []
    f = findings[findings["history"] == "new"]
    if "waived" in f.columns:
        f = f[~f["waived"].fillna(False).astype(bool)]
    f = f.sort_values(["region", "agency", "year", "rule_id", "report_id"], kind="stable")
    cols = ["report_id", "agency", "region", "year", "rule_id", "severity", "status", "message"]
    return [
        {k: (int(v) if k == "year" else ("" if v is None else str(v))) for k, v in zip(cols, row)}
        for row in f[cols].itertuples(index=False, name=None)
    ]


def summarise(outcome_summary: dict, findings, landing_page: str, site_url: str | None = None) -> Summary:
    """The run's message content, from its summary (run_results.json) and its findings."""
    new = new_findings(findings)
    counts = outcome_summary.get("counts") or {}
    history = counts.get("history") or {}
    agencies = {(f["region"], f["agency"]) for f in new}
    summary = Summary(
        run_id=outcome_summary.get("run_id", ""),
        checkpoint=outcome_summary.get("checkpoint", ""),
        exit_code=int(outcome_summary.get("exit_code", 0)),
        new=new,
        counts={
            "new": len(new),
            "new_errors": sum(1 for f in new if f["severity"] == "error" and f["status"] == "failed"),
            "new_warnings": sum(1 for f in new if not (f["severity"] == "error" and f["status"] == "failed")),
            "new_agencies": len(agencies),
            "persisting": int(history.get("persisting", 0)),
            "resolved": int(history.get("resolved", 0)),
            "failing_reports": int(counts.get("failing_reports", 0)),
        },
        landing_page=site_url or landing_page,
    )
    summary.groups = _groups(new)
    return summary


def _groups(new: list[dict]) -> list[dict]:
    groups: dict[tuple, dict] = {}
    for f in new:
        key = (f["region"], f["agency"], f["report_id"])
        g = groups.setdefault(
            key, {"region": f["region"], "agency": f["agency"], "report_id": f["report_id"], "year": f["year"]}
        )
        g.setdefault("findings", []).append({k: f[k] for k in ("rule_id", "severity", "status", "message")})
    return list(groups.values())


def _label(f: dict) -> str:
    return "无法核验" if f["status"] == "not_assessable" else SEVERITY_ZH.get(f["severity"], f["severity"])


def _clip(text: str, limit: int = 200) -> str:
    """One finding's message on one line, short enough for a chat window."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def title(s: Summary) -> str:
    return f"年报检查:新增 {s.counts['new']} 条问题(运行 {s.run_id})"


def text(s: Summary, max_findings: int, markdown: bool, max_bytes: int = 10**9) -> str:
    """The message body: counts, the first max_findings new findings by region and agency, "还有 M 条" for
    the rest, and the landing page. Findings are dropped from the end until it fits max_bytes."""
    c = s.counts
    head = [
        f"**{title(s)}**" if markdown else title(s),
        "",
        f"新增 {c['new']} 条(错误 {c['new_errors']} 条,警告及无法核验 {c['new_warnings']} 条),"
        f"涉及 {c['new_agencies']} 个单位;持续 {c['persisting']} 条,已整改 {c['resolved']} 条。",
        f"检查点 {s.checkpoint},退出码 {s.exit_code}。",
        "",
    ]
    link = s.landing_page
    if markdown and link.startswith(("http://", "https://")):
        tail_link = f"[审计首页]({link})"
    else:
        tail_link = f"审计首页:{link}"

    def render(shown: int) -> str:
        body, n = [], 0
        for g in s.groups:
            if n >= shown:
                break
            body.append(f"{'> ' if markdown else ''}{g['region']} · {g['agency']}({g['year']}年,{g['report_id']})")
            for f in g["findings"]:
                if n >= shown:
                    break
                body.append(f"- {f['rule_id']}〔{_label(f)}〕{_clip(f['message'])}")
                n += 1
            body.append("")
        rest = c["new"] - n
        more = [f"还有 {rest} 条,见审计首页。"] if rest > 0 else []
        return "\n".join(head + body + more + [tail_link])

    shown = min(max_findings, c["new"])
    out = render(shown)
    while shown > 0 and len(out.encode("utf-8")) > max_bytes:
        shown = max(0, shown - max(1, shown // 4))
        out = render(shown)
    return out


def payload(s: Summary, fmt: str, max_findings: int) -> dict:
    """The JSON body one webhook receives."""
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text(s, max_findings, True, MAX_BYTES["wecom"])}}
    if fmt == "dingtalk":
        return {
            "msgtype": "markdown",
            "markdown": {"title": title(s), "text": text(s, max_findings, True, MAX_BYTES["dingtalk"])},
        }
    shown, groups = 0, []
    for g in s.groups:  # the first max_findings, grouped as in the text
        if shown >= max_findings:
            break
        take = g["findings"][: max_findings - shown]
        groups.append({**g, "findings": take})
        shown += len(take)
    return {
        "source": "nianbao",
        "run_id": s.run_id,
        "checkpoint": s.checkpoint,
        "exit_code": s.exit_code,
        "title": title(s),
        "counts": s.counts,
        "new_findings": groups,
        "omitted": s.counts["new"] - shown,
        "landing_page": s.landing_page,
    }


# --- delivery ---------------------------------------------------------------------------------------


def dingtalk_signed(url: str, secret: str, now_ms: int | None = None) -> str:
    """钉钉's signed address: timestamp (ms) and sign = base64(HMAC-SHA256(secret, "timestamp\\nsecret"))
    appended to the query, as the robot's 加签 setting requires."""
    timestamp = str(int(time.time() * 1000) if now_ms is None else now_ms)
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = base64.b64encode(digest).decode("ascii")
    query = urllib.parse.urlencode({"timestamp": timestamp, "sign": sign})
    return f"{url}{'&' if urllib.parse.urlsplit(url).query else '?'}{query}"


def post_webhook(hook: Webhook, body: dict) -> Delivery:
    url = dingtalk_signed(hook.url, hook.secret) if hook.format == "dingtalk" and hook.secret else hook.url
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    delivery = Delivery("webhook", redact(hook.url), hook.format, ok=False)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            delivery.status = response.status
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        delivery.status, delivery.error = exc.code, f"接收方返回 HTTP {exc.code}"
        return delivery
    except (OSError, ValueError) as exc:  # refused, timed out, DNS, TLS
        delivery.error = f"无法连接:{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        return delivery
    # The robots answer 200 with an error code of their own when they refuse a message (bad key or sign).
    if hook.format in ("wecom", "dingtalk"):
        try:
            code = json.loads(answer or b"{}").get("errcode", 0)
        except (ValueError, AttributeError):
            code = 0
        if code:
            delivery.error = f"机器人拒绝了消息:errcode {code}"
            return delivery
    delivery.ok = True
    return delivery


def send_email(s: Summary, to: tuple[str, ...], max_findings: int, env=None) -> Delivery:
    """One e-mail to every recipient, over SMTP with the NIANBAO_SMTP_* settings of the environment."""
    env = os.environ if env is None else env
    delivery = Delivery("email", ", ".join(to), "email", ok=False)
    host = env.get("NIANBAO_SMTP_HOST")
    if not host:
        delivery.error = "未设置 NIANBAO_SMTP_HOST,无法发送邮件"
        return delivery
    user, password = env.get("NIANBAO_SMTP_USER") or None, env.get("NIANBAO_SMTP_PASSWORD") or ""
    # Credentials are never sent in the clear: with a user, STARTTLS is the default.
    tls = (env.get("NIANBAO_SMTP_TLS") or ("starttls" if user else "none")).lower()
    if tls not in ("starttls", "ssl", "none"):
        delivery.error = f"NIANBAO_SMTP_TLS={tls!r} 无效;可用:starttls/ssl/none"
        return delivery
    try:
        port = int(env.get("NIANBAO_SMTP_PORT") or {"ssl": 465, "starttls": 587}.get(tls, 25))
    except ValueError:
        delivery.error = "NIANBAO_SMTP_PORT 必须是整数"
        return delivery
    msg = EmailMessage()
    msg["Subject"] = title(s)
    msg["From"] = env.get("NIANBAO_SMTP_FROM") or user or "nianbao@localhost"
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid("nianbao")
    msg.set_content(text(s, max_findings, markdown=False), charset="utf-8")
    try:
        # An internal relay's certificate is often signed by the organisation's own CA.
        context = ssl.create_default_context(cafile=env.get("NIANBAO_SMTP_CA_FILE") or None)
        if tls == "ssl":
            client = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_S, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=TIMEOUT_S)
        with client:
            if tls == "starttls":
                client.starttls(context=context)
            if user:
                client.login(user, password)
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        delivery.error = f"邮件发送失败:{type(exc).__name__}: {exc}"
        return delivery
    delivery.ok = True
    return delivery


def deliver(s: Summary, config: Settings) -> list[Delivery]:
    """Send the run's one message to each configured receiver; a receiver's failure stops no other."""
    out = []
    for hook in config.webhooks:
        try:
            out.append(post_webhook(hook, payload(s, hook.format, config.max_findings)))
        except Exception as exc:  # a bug in one format must not cost the run or the other receivers
            out.append(Delivery("webhook", redact(hook.url), hook.format, False, f"{type(exc).__name__}: {exc}"))
    if config.email_to:
        try:
            out.append(send_email(s, config.email_to, config.max_findings))
        except Exception as exc:
            out.append(Delivery("email", ", ".join(config.email_to), "email", False, f"{type(exc).__name__}: {exc}"))
    return out


def notify_run(outcome_summary: dict, findings, landing_page: str, config: Settings) -> dict:
    """Notify about one completed run; returns what run_results.json records under `notifications`."""
    s = summarise(outcome_summary, findings, landing_page, config.site_url)
    record: dict = {"new_findings": s.counts["new"], "deliveries": []}
    if not s.new:
        record["sent"] = False
        record["reason"] = "本次运行没有新增问题,不发送通知"
        return record
    deliveries = deliver(s, config)
    record["deliveries"] = [d.as_dict() for d in deliveries]
    record["sent"] = any(d.ok for d in deliveries)
    record["failed"] = sum(1 for d in deliveries if not d.ok)
    return record
