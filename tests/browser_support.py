"""A headless chromium (Debian's) spoken to with the DevTools protocol over a pipe, for the tests.

Chromium talks DevTools over a pipe (--remote-debugging-pipe: JSON messages ending in NUL on fds 3
and 4), so the tests need no websocket library and open no port.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-default-browser-check",
    "--mute-audio",
)

NO_CHROMIUM = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium not installed (scripts/test.sh installs it)"
)


def _high_fd(fd: int) -> int:
    """The same pipe end on a descriptor above 4, so the child's dup2 onto 3 and 4 cannot clobber it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Browser:
    """A headless chromium and one page, spoken to with the DevTools protocol over a pipe."""

    def __init__(self, profile: Path):
        cmd_read, self._cmd = map(_high_fd, os.pipe())
        self._evt, evt_write = map(_high_fd, os.pipe())

        def child():  # chromium reads fd 3 and writes fd 4
            os.dup2(cmd_read, 3)
            os.dup2(evt_write, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cmd_read)
        os.close(evt_write)
        self._next, self._replies, self.events = 0, {}, []
        self._arrived = queue.Queue()
        threading.Thread(target=self._reader, daemon=True).start()
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable", session=True)

    def _reader(self):
        buf = b""
        while chunk := os.read(self._evt, 1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for m in messages:
                self._arrived.put(json.loads(m))

    def _pump(self, timeout: float) -> None:
        msg = self._arrived.get(timeout=timeout)
        if "id" in msg:
            self._replies[msg["id"]] = msg
        else:
            self.events.append(msg)

    def send(self, method: str, session: bool = False, timeout: float = 30, **params):
        """Send one command and wait for its reply."""
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._cmd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while self._next not in self._replies:
            self._pump(max(0.01, deadline - time.monotonic()))
        reply = self._replies.pop(self._next)
        assert "error" not in reply, reply
        return reply.get("result", {})

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        seen = len(self.events)
        self.send("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + 30
        while not any(e["method"] == "Page.loadEventFired" for e in self.events[seen:]):
            self._pump(max(0.01, deadline - time.monotonic()))

    def follow(self, expression: str) -> None:
        """Evaluate what leads to another page (a click, a filter that opens a page) and wait for its load."""
        seen = len(self.events)
        self.js(expression)
        deadline = time.monotonic() + 30
        while not any(e["method"] == "Page.loadEventFired" for e in self.events[seen:]):
            self._pump(max(0.01, deadline - time.monotonic()))

    def js(self, expression: str):
        """Evaluate in the page (promises awaited) and return the value."""
        result = self.send(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def type(self, element_id: str, text: str) -> None:
        """Focus an input and type into it as a user would (input events), then let the list settle."""
        self.js(f"document.getElementById({json.dumps(element_id)}).focus()")
        self.send("Input.insertText", session=True, text=text)
        self.js("new Promise(r => setTimeout(r, 400))")

    def drain(self) -> None:
        while not self._arrived.empty():
            self._pump(0.01)

    def problems(self) -> list:
        """Console errors, uncaught exceptions, dialogs (an injected alert()) and failed loads."""
        self.drain()
        bad = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if (
                m == "Runtime.exceptionThrown"
                or m == "Page.javascriptDialogOpening"
                or m == "Network.loadingFailed"
                or (m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"))
                or (m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error")
            ):
                bad.append(e)
        return bad

    def requests(self) -> list[str]:
        self.drain()
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self._cmd)

    def print_pdf(self, url: str, **options) -> bytes:
        """The page at `url` printed to PDF as a reader would print it (Page.printToPDF options)."""
        self.open(url)
        return base64.b64decode(self.send("Page.printToPDF", session=True, timeout=60, **options)["data"])
