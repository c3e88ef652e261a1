"""`nianbao serve`: the gate as an HTTP service and an upload page, against real server processes.

Two servers start once for the module, side by side: `server` as shipped (two parser processes, a
parse memory budget that a PDF bomb exceeds), and `strict` with every limit small (1 MB uploads, one
parser process, no waiting line, a 1 s parse time limit, a token) and every parse stalled by the fault
hook (NIANBAO_TEST_STALL_AT=parse: a parse that never ends, where the parse's own alarm cannot reach).
The parity test compares the service with the gate's own code path, `nianbao.run.gate()`, run in one
process of its own over the whole corpus and a synthetic error set, and with two `nianbao gate` runs.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from browser_support import NO_CHROMIUM, Browser
from checkpoint_support import make_root
from serve_support import Server, multipart
from test_ingest import write_pdf_bomb

from nianbao import rules as R
from nianbao import schema as S
from nianbao import synth
from nianbao.exitcodes import ExitCode
from nianbao.parse import render
from nianbao.paths import ROOT

REAL = ROOT.parent / "shared" / "corpus" / "real"
CORPUS_DRAFTS = sorted(p for p in REAL.iterdir() if p.suffix == ".txt")
HTML_DRAFT = ROOT.parent / "shared" / "corpus" / "html" / "pingtan-2023.html"
TOKEN = "s3cret-token-of-the-cms"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Both servers, started together (each loads GX for seconds)."""
    base = tmp_path_factory.mktemp("serve")
    shipped = Server(make_root(base / "a"), "--parse-memory", "256")
    strict = Server(
        make_root(base / "b"),
        *("--max-upload-mb", "1", "--parsers", "1", "--max-waiting", "0", "--parse-timeout", "1"),
        env={"NIANBAO_TEST_STALL_AT": "parse", "NIANBAO_SERVE_TOKEN": TOKEN},
    )
    try:
        shipped.wait_ready()
        strict.wait_ready()
        yield shipped, strict
    finally:
        shipped.stop()
        strict.stop()


@pytest.fixture(scope="module")
def server(servers):
    return servers[0]


@pytest.fixture(scope="module")
def strict(servers):
    return servers[1]


def meta_of(draft: Path) -> dict:
    """The corpus draft's agency, region and year, from its transcription (as tests/test_gate.py gives them)."""
    doc = json.loads((REAL / (draft.name.split(".")[0] + ".json")).read_text(encoding="utf-8"))
    return {"agency": doc["agency"], "region": doc["region"], "year": doc["year"]}


# --- every route -------------------------------------------------------------------------------------


def test_gate_answers_the_verdict_findings_and_parse_of_report_002(server):
    """Report 002 prints 行政复议 总计 0 under 10 + 1 and 复议后起诉 总计 0 under 5: ERRORS, both named."""
    draft = REAL / "002.tables.txt"
    status, answer = server.gate(draft.name, draft.read_bytes(), meta_of(draft))
    assert status == 200, answer
    assert answer["verdict"] == {
        "name": "ERRORS",
        "code": 2,
        "zh": "不通过:存在错误级问题,请修改后再发布。",
        "publish": False,
    }
    errors = {f["rule_id"]: f for f in answer["findings"] if f["severity"] == "error"}
    assert set(errors) == {"R4.review", "R4.litigation_after_review"}
    review = errors["R4.review"]
    assert review["status"] == "failed" and "应为" in review["message"] and "11" in review["fix"]
    assert review["cells"]["review_total"] == 0 and review["labels"]["review_total"] == "表四·行政复议·总计"
    assert answer["report"]["agency"] == "洪泽区人民政府" and answer["report"]["source_file"] == draft.name
    assert answer["parse"]["status"] == "parsed" and answer["parse"]["notes"] == ["格式偏差:other-single-row"]
    assert answer["message"] == ""
    best = {c["cell"]: c["proposed"] for c in answer["localisation"] if c["best"]}
    assert best == {"review_total": 11, "litigation_after_review_total": 5}
    assert answer["localisation_zh"].startswith("最可能需要改正的单元格:「表四·行政复议·总计」印刷为 0,应为 11")


def test_the_projects_waivers_apply_as_in_the_gate(server):
    """waivers.yml, edited while the service runs, waives 002's two errors as it does in `nianbao gate`:
    marked 已豁免, out of the verdict; a broken file is a configuration error; removed, the errors return."""
    draft = REAL / "002.tables.txt"
    _, answer = server.gate(draft.name, draft.read_bytes(), meta_of(draft))
    errors = [f for f in answer["findings"] if f["severity"] == "error"]
    entries = [
        {
            "report_id": answer["report"]["report_id"],
            "rule_id": f["rule_id"],
            "cells": f["cells"],
            "reason": "复核确认",
            "approved_by": "审核人",
            "expires": "2099-12-31",
        }
        for f in errors
    ]
    waivers = server.root / "waivers.yml"
    try:
        waivers.write_text(json.dumps({"waivers": entries}, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
        _, waived = server.gate(draft.name, draft.read_bytes(), meta_of(draft))
        assert waived["verdict"]["code"] < ExitCode.ERRORS
        assert {f["rule_id"] for f in waived["findings"] if f["waived"]} == {f["rule_id"] for f in errors}
        assert all("复核确认" in f["waiver_reason"] for f in waived["findings"] if f["waived"])
        waivers.write_text("waivers:\n  - report_id: nope\n", encoding="utf-8")
        _, broken = server.gate(draft.name, draft.read_bytes(), meta_of(draft))
        assert broken["verdict"]["code"] == ExitCode.CONFIG_ERROR and "waivers.yml" in broken["message"]
    finally:
        waivers.unlink(missing_ok=True)
    _, back = server.gate(draft.name, draft.read_bytes(), meta_of(draft))
    assert back["verdict"]["code"] == ExitCode.ERRORS and not any(f["waived"] for f in back["findings"])


def test_gate_takes_a_draft_as_json_html_or_pasted_text(server):
    doc = (REAL / "002.json").read_bytes()
    status, _, body = server.request(
        "POST", "/api/gate?level=county", doc, {"Content-Type": "application/json; charset=utf-8"}
    )
    answer = json.loads(body)
    assert status == 200 and answer["verdict"]["name"] == "ERRORS", answer
    assert {f["rule_id"] for f in answer["findings"] if f["status"] == "failed"} >= {"R4.review"}
    assert answer["report"]["level"] == "county"
    status, answer = server.gate("draft.json", doc)  # a JSON file uploaded as the draft
    assert status == 200 and answer["verdict"]["code"] == 2
    status, answer = server.gate(HTML_DRAFT.name, HTML_DRAFT.read_bytes())
    assert status == 200 and answer["parse"]["status"] in ("parsed", "partial"), answer
    body, content_type = multipart({"text": (REAL / "002.tables.txt").read_text(encoding="utf-8")})
    status, _, pasted = server.request("POST", "/api/gate", body, {"Content-Type": content_type})
    assert status == 200 and json.loads(pasted)["verdict"]["code"] == 2


def test_bad_input_is_a_4xx_with_the_reason_never_a_500(server):
    status, answer = server.gate("notes.txt", "本机关今年工作很好。\n没有表格。\n".encode())
    assert status == 422 and answer["verdict"]["name"] == "INPUT_UNREADABLE"
    assert answer["parse"]["reason"].startswith("no-tables-found") and "no-tables-found" in answer["message"]
    for name, data in (("x.pdf", b"%PDF-1.4 broken"), ("x.docx", b"PK\x03\x04junk"), ("bad.json", b"{not json")):
        status, answer = server.gate(name, data)
        assert status == 422 and answer["parse"]["status"] == "rejected" and answer["parse"]["reason"], answer
    status, answer = server.gate("002.txt", (REAL / "002.tables.txt").read_bytes(), {"year": "二〇二三"})
    assert status == 422 and "年度" in answer["detail"]
    status, answer = server.gate("002.txt", (REAL / "002.tables.txt").read_bytes(), {"level": "村"})
    assert status == 422 and "行政层级" in answer["detail"]
    body, content_type = multipart({"agency": "某局"})
    status, _, body = server.request("POST", "/api/gate", body, {"Content-Type": content_type})
    assert status == 422 and "请上传报告文件" in json.loads(body)["detail"]
    status, _, body = server.request("POST", "/api/gate", b"x", {"Content-Type": "text/plain"})
    assert status == 415 and "multipart" in json.loads(body)["detail"]
    status, _, body = server.request("GET", "/nope")
    assert status == 404 and json.loads(body) == {"detail": "没有这个地址"}
    assert server.health()["status"] == "ok"


def test_rules_health_and_generated_openapi(server):
    status, rules = server.get_json("/api/rules")
    assert status == 200 and [r["id"] for r in rules["rules"]] == [r.id for r in R.RULES]
    review = next(r for r in rules["rules"] if r["id"] == "R4.review")
    assert review["severity"] == "error" and review["table_zh"] == S.TABLE_TITLES["review_litigation"]
    status, health = server.get_json("/healthz")
    assert status == 200 and health["status"] == "ok" and health["parsers"] == 2
    status, spec = server.get_json("/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    assert {"/api/gate", "/api/rules", "/healthz", "/"} <= set(spec["paths"])
    gate = spec["paths"]["/api/gate"]["post"]
    assert set(gate["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"200", "413", "422", "503"} <= set(gate["responses"])
    assert "GateAnswer" in spec["components"]["schemas"]
    assert server.request("GET", "/docs")[0] == 404  # Swagger UI would load its scripts from a CDN


def test_upload_page_is_chinese_offline_and_answers_a_form_post(server):
    status, headers, body = server.request("GET", "/")
    page = body.decode("utf-8")
    assert status == 200 and headers["content-type"].startswith("text/html")
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp and "Content-Security-Policy" in page
    assert "上传报告草稿" in page and 'name="file"' in page and 'name="text"' in page
    assert "http://" not in page and "https://" not in page  # nothing loaded from elsewhere
    draft = REAL / "002.tables.txt"
    meta = {**meta_of(draft), "agency": "<script>alert(1)</script>局"}
    status, page = server.gate(draft.name, draft.read_bytes(), meta, path="/")
    assert status == 200 and "不通过" in page and 'data-rule="R4.review"' in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;局" in page
    status, page = server.gate("x.txt", "没有表格".encode(), path="/")
    assert status == 422 and "无法检查" in page and "no-tables-found" in page


# --- limits --------------------------------------------------------------------------------------------


def test_an_upload_over_the_limit_is_refused_with_413(strict):
    big = b"1 | 2 | 3 |\n" * (2**20 // 12 + 1000)  # a little over 1 MB
    body, content_type = multipart({}, "big.txt", big)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, _, answer = strict.request("POST", "/api/gate", body, {"Content-Type": content_type, **auth})
    assert status == 413 and "超过 1 MB 上限" in json.loads(answer)["detail"]
    # Without a Content-Length (chunked), refused once the body passes the limit.
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    status, _, answer = strict.request(
        "POST", "/api/gate", chunks, {"Content-Type": content_type, **auth}, chunked=True
    )
    assert status == 413 and "上限" in json.loads(answer)["detail"]
    status, _, page = strict.request("POST", "/", body, {"Content-Type": content_type})
    assert status == 413 and "超过 1 MB 上限" in page.decode("utf-8")
    assert strict.health()["status"] == "ok"


def test_a_token_is_required_when_set(strict):
    body, content_type = multipart({})
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Nianbao-Token": TOKEN[:-1]}):
        status, _, answer = strict.request("POST", "/api/gate", body, {"Content-Type": content_type, **headers})
        assert status == 401 and json.loads(answer)["detail"] == "缺少或错误的访问令牌", headers
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"X-Nianbao-Token": TOKEN}):
        # Accepted: the request gets as far as finding no draft in it.
        status, _, answer = strict.request("POST", "/api/gate", body, {"Content-Type": content_type, **headers})
        assert status == 422 and "请上传报告文件" in json.loads(answer)["detail"], headers
    assert 'name="token"' in strict.request("GET", "/")[2].decode("utf-8")
    page_body, page_type = multipart({"token": "wrong"}, "x.txt", b"x")
    status, _, page = strict.request("POST", "/", page_body, {"Content-Type": page_type})
    assert status == 401 and "访问令牌" in page.decode("utf-8")


def test_a_pdf_bomb_is_rejected_within_the_memory_budget(server, tmp_path):
    bomb = write_pdf_bomb(tmp_path / "bomb.pdf", 512)  # 0.5 MB inflating to 512 MB, over the 256 MB budget
    status, answer = server.gate("bomb.pdf", bomb.read_bytes())
    assert status == 422 and answer["parse"]["reason"].startswith("parser-out-of-memory: "), answer
    health = server.health()
    assert health["status"] == "ok" and health["parsers"] == 2
    status, answer = server.gate("002.txt", (REAL / "002.tables.txt").read_bytes())
    assert status == 200 and answer["verdict"]["code"] == 2


def test_a_hung_parse_is_killed_its_process_replaced_and_a_full_service_says_busy(strict):
    """Every parse of `strict` stalls: the first is killed after its 1 s limit plus the grace, and
    answered as parser-timeout; while it hangs, its one parser process is taken and nobody may wait,
    so a second draft gets 503 with Retry-After; afterwards a new process serves."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    draft = (REAL / "002.tables.txt").read_bytes()
    outcome = {}
    hung = threading.Thread(target=lambda: outcome.update(first=strict.gate("002.txt", draft, headers=auth)))
    started = time.monotonic()
    hung.start()
    while strict.health()["parsing"] != 1:
        assert time.monotonic() - started < 30 and hung.is_alive()
        time.sleep(0.05)
    body, content_type = multipart({}, "002.txt", draft)
    status, headers, answer = strict.request("POST", "/api/gate", body, {"Content-Type": content_type, **auth})
    assert status == 503 and "服务繁忙" in json.loads(answer)["detail"] and headers["retry-after"]
    hung.join(60)
    status, answer = outcome["first"]
    assert status == 422 and answer["parse"]["reason"].startswith("parser-timeout: "), answer
    assert answer["verdict"]["name"] == "INPUT_UNREADABLE"
    deadline = time.monotonic() + 60
    while strict.health()["idle"] != 1:
        assert time.monotonic() < deadline, strict.health()
        time.sleep(0.1)
    health = strict.health()
    assert health["status"] == "ok" and health["replaced"] >= 1


def test_fifty_concurrent_drafts_good_and_bad_each_get_their_answer(server):
    """50 requests at once (two parser processes, the rest waiting): every good draft gets the verdict it
    gets alone, every bad one a 4xx with its reason, none a 5xx, and the service is healthy afterwards."""
    good = [*CORPUS_DRAFTS, HTML_DRAFT]
    alone = {p.name: server.gate(p.name, p.read_bytes())[1]["verdict"]["code"] for p in good}
    bad = [
        ("empty.txt", b""),
        ("prose.txt", "今年工作很好。".encode()),
        ("junk.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40),
        ("broken.json", b'{"tables": 5}'),
        ("image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
    ]
    jobs = [(p.name, p.read_bytes(), True) for p in good] * 2 + [(n, d, False) for n, d in bad] * 3
    jobs = (jobs * 2)[:50]
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda job: (job, server.gate(job[0], job[1])), jobs))
    for (name, _, is_good), (status, answer) in answers:
        if is_good and name != "030.tables.txt":
            assert status == 200 and answer["verdict"]["code"] == alone[name], (name, status, answer)
        elif is_good:  # a real draft the parser rejects: a 422 with its verdict, as alone
            assert status == 422 and answer["verdict"]["code"] == alone[name]
        else:
            assert status == 422 and answer["parse"]["reason"], (name, status, answer)
    health = server.health()
    assert health["status"] == "ok" and health["waiting"] == 0 and health["parsing"] == 0


# --- parity with the gate -------------------------------------------------------------------------------


def synthetic_drafts(folder: Path) -> list[tuple[Path, dict]]:
    """Reports of `nianbao synth` with injected errors (every report, two tables each), in both formats,
    rendered as text drafts (each in the next layout), with their metadata."""
    drafts = []
    for year, n, seed in ((2023, 4, 24), (2020, 2, 25)):
        data = folder / f"synth-{year}"
        synth.generate(n, data, error_rate=1.0, errors_per_report=2, seed=seed, year=year)
        tables = {t: pq.read_table(data / t).to_pylist() for t in ("reports", *S.STATUTORY_TABLES)}
        rows = {t: {r["report_id"]: r for r in tables[t]} for t in S.STATUTORY_TABLES}
        for i, meta in enumerate(tables["reports"]):
            doc = _json_shape(meta, {t: rows[t][meta["report_id"]] for t in S.STATUTORY_TABLES})
            path = folder / f"synth-{year}-{i}.txt"
            path.write_text(render.render_text(doc, render.LAYOUTS[len(drafts) % 7]), encoding="utf-8")
            drafts.append((path, {k: meta[k] for k in ("agency", "region", "year", "level")}))
    return drafts


def _json_shape(meta: dict, values: dict) -> dict:
    """A report's rows in the corpus JSON shape (the inverse of ingest_file.statistical_values)."""
    version = meta["format_version"]
    active: dict = {}
    for key, index, column, _ in S.ACTIVE_2019 if version == S.FORMAT_2019 else S.ACTIVE_2021:
        value = values["active_disclosure"][column]
        if index is None:
            active[key] = value
        else:
            active.setdefault(key, []).extend([None] * (index + 1 - len(active.get(key, []))))
            active[key][index] = value
    single = version == S.FORMAT_2019 or meta["format_deviations"] == synth.SINGLE_ROW_DEVIATION
    keys = S.APPLICATION_ROW_KEYS_SINGLE if single else S.APPLICATION_ROW_KEYS_SUBROWS
    apps = values["applications"]
    doc = {
        "agency": meta["agency"],
        "year": meta["year"],
        "region": meta["region"],
        "format_version": version,
        "tables": {
            "active": None if version == S.FORMAT_2019 else active,
            "applications": {k: [apps[S.app_col(k, c)] for c, _ in S.APPLICANT_COLUMNS] for k in keys},
            "review_litigation": {
                g: [values["review_litigation"][f"{g}_{o}"] for o, _ in S.REVIEW_OUTCOMES] for g, _ in S.REVIEW_GROUPS
            },
        },
    }
    if version == S.FORMAT_2019:
        doc["active_2019_format"] = active
    return doc


# The gate's own code path, in one process: GX is imported once for every draft.
GATE_EACH = """if True:
    import json, sys
    from nianbao.run import gate
    out = {}
    for job in json.loads(sys.stdin.read()):
        outcome, _, _ = gate(job["path"], **job["meta"])
        f, d = outcome.findings, outcome.diagnoses.to_pylist()
        out[job["path"]] = {
            "code": int(outcome.exit_code),
            "findings": sorted([r, s, json.loads(c)] for r, s, c in zip(f.rule_id, f.status, f.cells)),
            "localisation": [[x["solution"], x["cell"], x["proposed"], x["best"]] for x in d],
        }
    print(json.dumps(out, ensure_ascii=False))
"""


def findings_of(answer: dict) -> list:
    return sorted([f["rule_id"], f["status"], f["cells"]] for f in answer["findings"])


def test_the_service_and_the_gate_give_the_same_verdicts_and_findings(server, tmp_path):
    """Over the whole corpus (with the metadata tests/test_gate.py gives) and the synthetic error set:
    the same exit code and the same findings (rule, status, cells) as `nianbao.run.gate()`, the code
    path of `nianbao gate`; and for two drafts, as two real `nianbao gate` runs. The gates run side by
    side, each in a GX project of its own."""
    drafts = [(p, meta_of(p)) for p in CORPUS_DRAFTS] + synthetic_drafts(tmp_path)
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    env.pop("NIANBAO_TEST_CRASH_AT", None)
    roots = [make_root(tmp_path / f"gate-{i}") for i in range(4)]
    gates = []
    for root, half in zip(roots, (drafts[0::2], drafts[1::2])):  # two processes: two cores
        gate = subprocess.Popen(
            [sys.executable, "-c", GATE_EACH],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**env, "NIANBAO_ROOT": str(root)},
        )
        gate.stdin.write(json.dumps([{"path": str(p), "meta": m} for p, m in half]))
        gate.stdin.close()
        gates.append(gate)
    clis = []
    for root, (path, meta) in zip(roots[2:], (drafts[1], drafts[-1])):  # 002; a synthetic 2019 draft with level
        args = [a for k, v in meta.items() if v is not None for a in (f"--{k}", str(v))]
        command = [sys.executable, "-m", "nianbao", "gate", str(path), *args]
        clis.append((root, path, subprocess.Popen(command, env={**env, "NIANBAO_ROOT": str(root)}, cwd=root)))
    served = {str(p): server.gate(p.name, p.read_bytes(), m) for p, m in drafts}  # while GX runs
    expected = {}
    for gate in gates:
        expected.update(json.loads(gate.stdout.read()))
        assert gate.wait(900) == 0

    wrong, codes = [], {}
    for path, (status, answer) in served.items():
        want = expected[path]
        got = {
            "code": answer["verdict"]["code"],
            "findings": findings_of(answer) if status == 200 else [],
            "localisation": [[c["solution"], c["cell"], c["proposed"], c["best"]] for c in answer["localisation"]]
            if status == 200
            else [],
        }
        if got != want or status != (422 if answer["parse"]["status"] == "rejected" else 200):
            wrong.append((Path(path).name, status, got, want))
        codes[want["code"]] = codes.get(want["code"], 0) + 1
    assert not wrong, wrong
    assert codes.get(ExitCode.ERRORS, 0) >= 6 and codes.get(ExitCode.INPUT_UNREADABLE, 0) >= 5, codes

    for root, path, cli in clis:
        status, answer = served[str(path)]
        assert cli.wait(600) == answer["verdict"]["code"], path
        rows = pq.read_table(root / "uncommitted" / "runs" / "latest" / "findings.parquet").to_pylist()
        assert sorted([r["rule_id"], r["status"], json.loads(r["cells"])] for r in rows) == findings_of(answer)


# --- the page in a browser -------------------------------------------------------------------------------


@pytest.mark.browser
@NO_CHROMIUM
def test_upload_page_in_chromium_shows_the_verdict_and_marks_the_two_totals(server, tmp_path):
    """Upload 002.tables.txt on the page: 不通过, R4.review and R4.litigation_after_review named, the two
    表四 totals marked; the page loads nothing from anywhere but the service."""
    browser = Browser(tmp_path / "profile")
    try:
        base = f"http://127.0.0.1:{server.port}/"
        browser.open(base)
        document = browser.send("DOM.getDocument", session=True)["root"]["nodeId"]
        node = browser.send("DOM.querySelector", session=True, nodeId=document, selector="#file")["nodeId"]
        browser.send("DOM.setFileInputFiles", session=True, nodeId=node, files=[str(REAL / "002.tables.txt")])
        assert browser.js("document.getElementById('chosen').textContent") == "已选择:002.tables.txt"
        seen = len(browser.events)
        browser.js("document.getElementById('gate-form').requestSubmit(), true")
        deadline = time.monotonic() + 60
        while not any(e["method"] == "Page.loadEventFired" for e in browser.events[seen:]):
            assert time.monotonic() < deadline
            browser._pump(max(0.01, deadline - time.monotonic()))
        assert "不通过" in browser.js("document.getElementById('verdict-text').textContent")
        named = browser.js("[...document.querySelectorAll('#findings .finding')].map(f => f.dataset.rule)")
        assert {"R4.review", "R4.litigation_after_review"} <= set(named)
        totals = browser.js(
            "['review_total', 'litigation_after_review_total', 'litigation_direct_total'].map(c => {"
            "  const td = document.querySelector(`#t4 td[data-column='${c}']`);"
            "  return [td.classList.contains('likely'), td.dataset.rules || '', td.firstChild.textContent,"
            "          td.querySelector('.proposed') ? td.querySelector('.proposed').textContent : '']; })"
        )
        assert totals == [
            [True, "R4.review", "0", "应为 11"],
            [True, "R4.litigation_after_review", "0", "应为 5"],
            [False, "", "0", ""],
        ]
        assert "最可能需要改正的单元格" in browser.js("document.getElementById('diagnosis').textContent")
        assert all(url.startswith(base) for url in browser.requests()), browser.requests()
        assert not browser.problems(), browser.problems()
    finally:
        browser.close()
