"""`nianbao serve` under load, against the CLI gate and GX's warm validation of the same draft.

Starts the service on a free port over a private copy of the GX project, then runs a small asyncio load
generator: C clients, each sending drafts back to back over one keep-alive connection (closed loop),
cycling through the corpus's text drafts and the HTML pages. Prints median, p95, p99 and max latency,
throughput and errors for each client count, the time of one PDF through the service against its parse
alone, then the CLI gate's time for one draft (`nianbao gate`, a process of its own) and GX's warm
validation in one process (the second `run.gate()` of the same draft: its checkpoint and its whole run).
Prints figures only, never asserts a timing.
Usage: python benchmarks/bench_serve.py [--clients 1,8] [--requests 200] [--parsers N] [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("NIANBAO_CORPUS", ROOT.parent / "shared" / "corpus"))
GX_FILES = ("great_expectations.yml", "expectations", "checkpoints", "validation_definitions")
GATE_DRAFT = CORPUS / "real" / "002.tables.txt"


def private_root(base: Path) -> Path:
    """A copy of the project's GX files, so that neither the gate's runs nor the service touch the checkout."""
    root = base / "root"
    root.mkdir()
    for name in GX_FILES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, root / name)
    (root / "plugins").symlink_to(ROOT / "plugins")
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(root: Path, port: int, parsers: int | None) -> tuple[subprocess.Popen, float]:
    """The service in a process of its own, and its start-up time (until /healthz answers)."""
    env = {**os.environ, "NIANBAO_ROOT": str(root), "GX_ANALYTICS_ENABLED": "false"}
    cmd = [sys.executable, "-m", "nianbao", "serve", "--port", str(port)]
    if parsers:
        cmd += ["--parsers", str(parsers)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    while time.perf_counter() - started < 120:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc, time.perf_counter() - started
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the service stopped: {proc.stderr.read()}") from None
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the service did not answer /healthz within 120 s")


def multipart(path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Client:
    """One keep-alive HTTP/1.1 connection: POST /api/gate and read the answer."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def gate(self, body: bytes, content_type: str) -> tuple[int, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(
            (
                f"POST /api/gate HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        await self.writer.drain()
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                close = True
        answer = json.loads(await self.reader.readexactly(length))
        if close:
            self.close()
        return status, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def load(host: str, port: int, drafts: list[tuple[bytes, str, str]], clients: int, requests: int) -> dict:
    """`requests` drafts sent by `clients` closed-loop clients; latencies in ms, errors, throughput."""
    latencies: list[float] = []
    errors: list[str] = []
    queue = iter(range(requests))

    async def one_client(k: int) -> None:
        client = Client(host, port)
        for i in queue:
            body, content_type, name = drafts[(i + k) % len(drafts)]
            started = time.perf_counter()
            try:
                status, answer = await client.gate(body, content_type)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                errors.append(f"{name}: {type(exc).__name__}")
                client.close()
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if status not in (200, 422) or "verdict" not in answer:  # 422: a draft the parser rejects
                errors.append(f"{name}: HTTP {status}")
        client.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_client(k) for k in range(clients)))
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {
        "clients": clients,
        "requests": requests,
        "median": statistics.median(latencies),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": latencies[-1],
        "per_s": requests / wall,
        "errors": errors,
    }


def pdf_against_parse(host: str, port: int) -> tuple[float, float]:
    """One corpus PDF: the service's answer time, and its parse alone in this process (best of three each)."""
    from nianbao.parse import parse_file

    pdf = CORPUS / "pdf" / "hongze-2023.pdf"
    body, content_type = multipart(pdf)

    async def served() -> float:
        client = Client(host, port)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            await client.gate(body, content_type)
            best = min(best, time.perf_counter() - started)
        client.close()
        return best * 1000

    service_ms = asyncio.run(served())
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        parse_file(pdf)
        best = min(best, time.perf_counter() - started)
    return service_ms, best * 1000


GX_WARM = """if True:
    import json, sys, time
    from nianbao.run import gate
    times = []
    for _ in range(2):
        started = time.perf_counter()
        outcome, _, _ = gate(sys.argv[1])
        times.append((time.perf_counter() - started, outcome.summary.get("timings", {}).get("checkpoint_s")))
    print(json.dumps({"cold_s": times[0][0], "warm_s": times[1][0], "warm_checkpoint_s": times[1][1],
                      "exit": int(outcome.exit_code)}))
"""


def gx_times(root: Path) -> dict:
    """The CLI gate's wall time for one draft, and GX's warm validation of it in one process."""
    env = {**os.environ, "NIANBAO_ROOT": str(root), "GX_ANALYTICS_ENABLED": "false"}
    started = time.perf_counter()
    cli = subprocess.run(
        [sys.executable, "-m", "nianbao", "gate", str(GATE_DRAFT)], env=env, capture_output=True, text=True
    )
    cli_s = time.perf_counter() - started
    warm = subprocess.run([sys.executable, "-c", GX_WARM, str(GATE_DRAFT)], env=env, capture_output=True, text=True)
    out = json.loads(warm.stdout.strip().splitlines()[-1])
    return {"cli_s": cli_s, "cli_exit": cli.returncode, **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", default="1,8")
    ap.add_argument("--requests", type=int, default=200, help="per client count")
    ap.add_argument("--parsers", type=int, default=None)
    ap.add_argument("--url", default=None, help="a running service (default: start one)")
    ap.add_argument("--skip-gx", action="store_true")
    args = ap.parse_args()

    drafts = []
    for path in [*sorted((CORPUS / "real").glob("*.txt")), *sorted((CORPUS / "html").glob("*.html"))]:
        body, content_type = multipart(path)
        drafts.append((body, content_type, path.name))
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        root = private_root(Path(tmp))
        proc = None
        if args.url:
            host, port = args.url.split("//")[-1].rstrip("/").split(":")
            port = int(port)
        else:
            host, port = "127.0.0.1", free_port()
            proc, startup = start_service(root, port, args.parsers)
            print(f"service start-up (GX context, checks, parser processes): {startup:.1f} s")
        try:
            asyncio.run(load(host, port, drafts, 2, 2 * len(drafts)))  # warm every draft kind once
            print(f"drafts: {len(drafts)} ({sum(n.endswith('.txt') for _, _, n in drafts)} text, the rest HTML)")
            print("| clients | requests | median ms | p95 ms | p99 ms | max ms | drafts/s | errors |")
            print("|---|---|---|---|---|---|---|---|")
            for clients in (int(c) for c in args.clients.split(",")):
                r = asyncio.run(load(host, port, drafts, clients, args.requests))
                print(
                    f"| {clients} | {r['requests']} | {r['median']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} | "
                    f"{r['max']:.0f} | {r['per_s']:.1f} | {len(r['errors'])} |"
                )
                for e in r["errors"][:5]:
                    print(f"  error: {e}")
            service_ms, parse_ms = pdf_against_parse(host, port)
            print(
                f"PDF hongze-2023.pdf: service {service_ms:.0f} ms, its parse alone {parse_ms:.0f} ms "
                f"(+{service_ms - parse_ms:.0f} ms)"
            )
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(30)
        if not args.skip_gx:
            gx = gx_times(root)
            print(f"CLI gate (`nianbao gate 002.tables.txt`, one process): {gx['cli_s']:.1f} s, exit {gx['cli_exit']}")
            print(
                f"GX in one process, run.gate() of the same draft: first {gx['cold_s']:.1f} s, "
                f"warm {gx['warm_s']:.1f} s (of which the checkpoint's validation {gx['warm_checkpoint_s']:.1f} s)"
            )


if __name__ == "__main__":
    main()
