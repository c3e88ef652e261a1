"""`nianbao serve` as the service tests meet it: a real server process on a free port, spoken to over HTTP.

Each server runs `python -m nianbao serve` with NIANBAO_ROOT pointing at a private copy of the GX project
(checkpoint_support.make_root), so the tests never touch the checkout.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

STARTUP_SECONDS = 180  # GX's import and context on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `nianbao serve` process."""

    def __init__(self, root: Path, *args: str, env: dict | None = None):
        self.port = free_port()
        self.root = Path(root)
        self.log = Path(root) / f"serve-{self.port}.log"
        full_env = {**os.environ, "NIANBAO_ROOT": str(root), "GX_ANALYTICS_ENABLED": "false", **(env or {})}
        full_env.pop("NIANBAO_TEST_CRASH_AT", None)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nianbao", "serve", "--port", str(self.port), *args],
                cwd=root,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nianbao serve exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if self.request("GET", "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"nianbao serve did not answer /healthz: {self.log.read_text()[-3000:]}")

    def request(
        self, method: str, path: str, body=None, headers: dict | None = None, timeout: float = 120, chunked=False
    ) -> tuple[int, dict, bytes]:
        """(status, headers with lower-case names, body) of one request on a new connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            # A server that answers before reading the whole body (413) closes: its answer is there to read.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def get_json(self, path: str) -> tuple[int, dict]:
        status, _, body = self.request("GET", path)
        return status, json.loads(body)

    def gate(self, name: str, data: bytes, meta: dict | None = None, headers: dict | None = None, path="/api/gate"):
        """POST one draft as a multipart upload: (status, answer as JSON, or the page's text for `/`)."""
        body, content_type = multipart({k: str(v) for k, v in (meta or {}).items() if v is not None}, name, data)
        status, _, answer = self.request("POST", path, body, {"Content-Type": content_type, **(headers or {})})
        return status, (json.loads(answer) if path.startswith("/api/") else answer.decode("utf-8"))

    def health(self) -> dict:
        return self.get_json("/healthz")[1]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)


def multipart(fields: dict[str, str], filename: str | None = None, data: bytes = b"") -> tuple[bytes, str]:
    """A multipart/form-data body with text fields and (when named) one file in the field `file`."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    if filename is not None:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
