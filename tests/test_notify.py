"""Notifications of new findings (nianbao.notify) and the JUnit XML report (nianbao.junit).

Real `nianbao run nightly` subprocesses post to a local HTTP receiver (http.server in a thread) and
mail a local SMTP server (aiosmtpd), both on free loopback ports. Each receiver records a request
before it answers, so once the run's process has exited every message it sent is recorded: no sleeps.
The runs are module fixtures shared by the assertions (each costs seconds).
"""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import socket
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from checkpoint_support import base_reports, edited, make_root, run_cli, write_data

from nianbao import junit, notify
from nianbao import schema as S
from nianbao.exitcodes import ExitCode

FIXED = S.report_id_for("西湖区人民政府", "浙江省杭州市西湖区", 2023)  # clean in the base fixture
BROKEN_LATER = {"review_upheld": 4, "review_total": 0}  # 行政复议 4 upheld with a 总计 of 0: an error


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on a free loopback port: records (path, query, body), answers `status`."""

    def __init__(self, status: int = 200, answer: dict | None = None):
        self.status, self.answer, self.requests = status, answer or {"errcode": 0}, []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook?key=SECRET-KEY"

    def bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = urllib.parse.urlsplit(self.path)
        with self.server.lock:
            self.server.requests.append(
                {
                    "path": parts.path,
                    "query": urllib.parse.parse_qs(parts.query),
                    "type": self.headers.get("Content-Type"),
                    "body": body.decode("utf-8"),
                }
            )
        out = json.dumps(self.server.answer).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):  # keep pytest's output clean
        pass


class Mailbox:
    """aiosmtpd's handler: every message it accepted."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "msg": msg})
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def smtp():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


def announced(body: dict) -> set[tuple[str, str]]:
    """(report_id, rule_id) of every finding a plain JSON message lists."""
    return {(g["report_id"], f["rule_id"]) for g in body["new_findings"] for f in g["findings"]}


def new_keys(run_dir) -> set[tuple[str, str]]:
    f = pd.read_parquet(run_dir / "findings.parquet")
    f = f[(f["history"] == "new") & ~f["waived"]]
    return set(zip(f.report_id, f.rule_id))


def latest_results(root) -> tuple[dict, object]:
    run_dir = (root / "uncommitted" / "runs" / "latest").resolve()
    return json.loads((run_dir / "run_results.json").read_text(encoding="utf-8")), run_dir


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory, smtp):
    """JSON webhook + e-mail over three nightly runs: new findings, nothing new, one new broken report."""
    box, port = smtp
    hook = Receiver()
    root = make_root(tmp_path_factory.mktemp("notify"))
    env = {"NIANBAO_SMTP_HOST": "127.0.0.1", "NIANBAO_SMTP_PORT": str(port), "NIANBAO_SMTP_FROM": "nianbao@test"}
    args = ("run", "nightly", "--notify-webhook", hook.url, "--notify-email", "audit@example.org")
    steps = []
    for i, reports in enumerate(
        [
            base_reports(),
            base_reports(),
            edited(base_reports(), "西湖区人民政府", "review_litigation", BROKEN_LATER),
        ]
    ):
        write_data(root / "data", reports)
        junit_file = root / f"junit-{i}.xml"
        proc = run_cli(root, *args, "--junit-xml", str(junit_file), env=env)
        results, run_dir = latest_results(root)
        steps.append(
            {
                "proc": proc,
                "results": results,
                "run_dir": run_dir,
                "junit": junit_file,
                "posts": list(hook.requests),
                "mails": list(box.messages),
            }
        )
        hook.requests.clear()
        box.messages.clear()
    hook.stop()
    return steps


def test_first_run_sends_one_webhook_and_one_mail_naming_the_new_findings(three_runs):
    step = three_runs[0]
    assert step["proc"].returncode == ExitCode.ERRORS, step["proc"].stderr[-3000:]
    expected = new_keys(step["run_dir"])
    assert expected, "the base fixture has findings"
    assert len(step["posts"]) == 1 and len(step["mails"]) == 1
    post = step["posts"][0]
    assert post["type"].startswith("application/json")
    body = json.loads(post["body"])
    assert body["run_id"] == step["results"]["run_id"]
    assert body["counts"]["new"] == len(expected)
    assert announced(body) == expected  # the fixture's few findings are all listed
    assert body["omitted"] == 0
    assert body["landing_page"].endswith("nianbao/index.html")
    message = step["mails"][0]
    assert message["to"] == ["audit@example.org"]
    assert message["msg"]["Subject"] == body["title"]
    text = message["msg"].get_content()
    for report_id, rule_id in expected:
        assert report_id in text and rule_id in text
    assert "苏州市财政局" in text
    record = step["results"]["notifications"]
    assert record["sent"] is True and record["new_findings"] == len(expected)
    assert [d["ok"] for d in record["deliveries"]] == [True, True]
    assert "SECRET-KEY" not in json.dumps(record)  # the webhook's key is never written to the results


def test_second_run_with_nothing_new_sends_nothing(three_runs):
    step = three_runs[1]
    assert step["proc"].returncode == three_runs[0]["proc"].returncode
    assert new_keys(step["run_dir"]) == set()
    assert step["posts"] == [] and step["mails"] == []
    assert step["results"]["notifications"]["sent"] is False
    assert "未发送通知" in step["proc"].stdout


def test_third_run_names_only_the_new_broken_report(three_runs):
    step = three_runs[2]
    expected = new_keys(step["run_dir"])
    assert expected and {r for r, _ in expected} == {FIXED}
    assert len(step["posts"]) == 1 and len(step["mails"]) == 1
    body = json.loads(step["posts"][0]["body"])
    assert announced(body) == expected
    text = step["mails"][0]["msg"].get_content()
    assert "西湖区人民政府" in text and "苏州市财政局" not in text


def test_junit_xml_counts_equal_the_findings(three_runs):
    for step in three_runs:
        findings = pd.read_parquet(step["run_dir"] / "findings.parquet")
        root = ET.parse(step["junit"]).getroot()
        assert root.tag == "testsuites"
        cases = root.findall("./testsuite/testcase")
        assert int(root.get("tests")) == len(cases) == len(findings)
        errors = findings[(findings.status == "failed") & (findings.severity == "error") & ~findings.waived]
        assert int(root.get("failures")) == len(root.findall("./testsuite/testcase/failure")) == len(errors)
        assert int(root.get("skipped")) == len(findings) - len(errors)
        assert {s.get("name") for s in root.findall("testsuite")} == set(findings.suite)
        failed = {
            (c.find("properties/property[@name='report_id']").get("value"), c.find("failure").get("message"))
            for c in cases
            if c.find("failure") is not None
        }
        assert {(r, m) for r, m in failed} == {(r, f"〔错误〕{m}") for r, m in zip(errors.report_id, errors.message)}


@pytest.fixture(scope="module")
def robots_run(tmp_path_factory):
    """One nightly run configured in pyproject.toml: 企业微信, signed 钉钉, a 500 and a refused port."""
    wecom, ding, broken = Receiver(), Receiver(), Receiver(status=500)
    refused = f"http://127.0.0.1:{free_port()}/hook"
    root = make_root(tmp_path_factory.mktemp("robots"))
    write_data(root / "data", base_reports())
    (root / "pyproject.toml").write_text(
        "[tool.nianbao.notify]\nmax_findings = 2\n"
        f'[[tool.nianbao.notify.webhook]]\nurl = "{wecom.url}"\nformat = "wecom"\n'
        f'[[tool.nianbao.notify.webhook]]\nurl = "{ding.url}"\nformat = "dingtalk"\nsecret_env = "TEST_DING_SECRET"\n'
        f'[[tool.nianbao.notify.webhook]]\nurl = "{broken.url}"\n'
        f'[[tool.nianbao.notify.webhook]]\nurl = "{refused}"\n',
        encoding="utf-8",
    )
    proc = run_cli(root, "run", "nightly", env={"TEST_DING_SECRET": "SECtest"})
    results, run_dir = latest_results(root)
    out = {"proc": proc, "results": results, "run_dir": run_dir}
    out.update(wecom=list(wecom.requests), ding=list(ding.requests), broken=list(broken.requests))
    for r in (wecom, ding, broken):
        r.stop()
    return out


def test_wecom_and_dingtalk_payloads(robots_run):
    total = len(new_keys(robots_run["run_dir"]))
    assert len(robots_run["wecom"]) == 1 and len(robots_run["ding"]) == 1
    wecom = json.loads(robots_run["wecom"][0]["body"])
    assert set(wecom) == {"msgtype", "markdown"} and wecom["msgtype"] == "markdown"
    assert set(wecom["markdown"]) == {"content"}
    content = wecom["markdown"]["content"]
    assert f"新增 {total} 条" in content and f"还有 {total - 2} 条" in content  # max_findings = 2
    assert len(content.encode("utf-8")) <= 4096

    ding = robots_run["ding"][0]
    body = json.loads(ding["body"])
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"title", "text"}
    assert f"还有 {total - 2} 条" in body["markdown"]["text"]
    # 钉钉's 加签: sign = base64(HMAC-SHA256(secret, timestamp + "\n" + secret)), the robot's key kept.
    query = ding["query"]
    timestamp, sign = query["timestamp"][0], query["sign"][0]
    digest = hmac.new(b"SECtest", f"{timestamp}\nSECtest".encode(), hashlib.sha256).digest()
    assert sign == base64.b64encode(digest).decode()
    assert query["key"] == ["SECRET-KEY"]


def test_failing_receivers_leave_the_exit_code_and_are_recorded(robots_run):
    proc = robots_run["proc"]
    assert proc.returncode == ExitCode.ERRORS, proc.stderr[-3000:]  # as without notifications
    assert len(robots_run["broken"]) == 1  # one attempt, no retry storm
    deliveries = robots_run["results"]["notifications"]["deliveries"]
    assert [d["ok"] for d in deliveries] == [True, True, False, False]
    assert deliveries[2]["status"] == 500 and "HTTP 500" in deliveries[2]["error"]
    assert "无法连接" in deliveries[3]["error"]
    assert robots_run["results"]["notifications"]["failed"] == 2
    assert proc.stderr.count("通知发送失败") == 2 and "不影响退出码" in proc.stderr


# --- without a run ----------------------------------------------------------------------------------


def _summary(n: int) -> notify.Summary:
    findings = pd.DataFrame(
        {
            "report_id": [f"R{i:016x}" for i in range(n)],
            "agency": [f"单位{i}" for i in range(n)],
            "region": ["江苏省南京市"] * n,
            "year": [2023] * n,
            "rule_id": ["R1.identity"] * n,
            "severity": ["error"] * n,
            "status": ["failed"] * n,
            "message": ["行政复议总计应为 11,印为 0" * 20] * n,
            "history": ["new"] * n,
            "waived": [False] * n,
        }
    )
    return notify.summarise({"run_id": "RUN", "checkpoint": "nightly", "exit_code": 1}, findings, "/site/index.html")


def test_many_findings_make_one_message_that_fits_the_robots():
    s = _summary(500)
    for fmt, limit in (("wecom", 4096), ("dingtalk", 20000)):
        body = notify.payload(s, fmt, 100)
        md = body["markdown"]["content" if fmt == "wecom" else "text"]
        assert len(md.encode("utf-8")) <= limit
        shown = md.count("- R1.identity")
        assert 0 < shown < 100 and f"还有 {500 - shown} 条" in md
    plain = notify.payload(s, "json", 20)
    assert plain["omitted"] == 480 and sum(len(g["findings"]) for g in plain["new_findings"]) == 20


def test_no_receiver_configured_means_no_network_and_bad_formats_are_refused():
    assert not notify.settings({}).configured
    assert not notify.settings({"webhook": ["http://127.0.0.1:1/x"]}, disabled=True).configured
    with pytest.raises(notify.NotifyConfigError):
        notify.settings({"webhook": [{"url": "http://127.0.0.1:1/x", "format": "slack"}]})
    with pytest.raises(notify.NotifyConfigError):
        notify.settings({}, webhooks=["file:///etc/passwd"])


def test_junit_of_a_run_that_did_not_complete_is_one_error(tmp_path):
    path = junit.write(tmp_path / "j.xml", {"run_id": "RUN", "completed": False}, None, "数据目录无法使用")
    root = ET.parse(path).getroot()
    assert (root.get("tests"), root.get("errors"), root.get("failures")) == ("1", "1", "0")
    assert root.find("./testsuite/testcase/error").get("message") == "数据目录无法使用"


def self_signed_pem(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files: what an internal relay presents."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nianbao test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "relay.pem", folder / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


class TlsMailbox(Mailbox):
    """Records, with each message, whether its session was encrypted and who logged in."""

    async def handle_DATA(self, server, session, envelope):
        await super().handle_DATA(server, session, envelope)
        login = session.auth_data.login if session.authenticated else None
        self.messages[-1].update(tls=session.ssl is not None, login=login)
        return "250 OK"


def test_email_with_a_login_goes_over_starttls_to_a_relay_with_its_own_ca(tmp_path):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = self_signed_pem(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False, auth_data=auth_data)

    box = TlsMailbox()
    # The relay refuses anything before STARTTLS, and a login over a plain connection.
    relay = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    relay.start()
    try:
        counts = {"new": 1, "new_errors": 1, "new_warnings": 0, "new_agencies": 1, "persisting": 0, "resolved": 0}
        summary = notify.Summary("run-1", "nightly", 2, [], counts, "/site/nianbao/index.html")
        env = {
            "NIANBAO_SMTP_HOST": "127.0.0.1",
            "NIANBAO_SMTP_PORT": str(relay.port),
            "NIANBAO_SMTP_USER": "audit",
            "NIANBAO_SMTP_PASSWORD": "s3cret",
        }
        untrusted = notify.send_email(summary, ("a@example.org",), 10, env=env)
        assert not untrusted.ok and "CERTIFICATE_VERIFY_FAILED" in untrusted.error
        assert box.messages == [] and logins == []  # no password left the machine unencrypted

        sent = notify.send_email(summary, ("a@example.org",), 10, env={**env, "NIANBAO_SMTP_CA_FILE": cert})
        assert sent.ok, sent.error
        assert [(m["tls"], m["login"], m["to"]) for m in box.messages] == [(True, b"audit", ["a@example.org"])]
        assert logins == [(b"audit", b"s3cret")]
    finally:
        relay.stop()
