"""A real `muse serve` process on a free localhost port, for the tests that talk to it over HTTP."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ADDRESS = re.compile(r"muse serve: (http://\S+?/)")


class Server:
    """``muse serve ARGS --port 0`` in a subprocess; ``url`` once it listens, ``lines`` its stderr."""

    def __init__(self, *arguments: str, startup: float = 120.0):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "muse_gan", "serve", "--port", "0", *arguments],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.url = self._wait_for_address(startup)
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_for_address(self, startup: float) -> str:
        ends = time.monotonic() + startup
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            found = ADDRESS.search(line)
            if found:
                return found.group(1).split("?")[0].rstrip("/")
            if time.monotonic() > ends:
                break
        self.stop()
        raise AssertionError("muse serve did not start:\n" + "\n".join(self.lines))

    def _drain(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def request(self, method: str, path: str, body=None, headers=None, raw: bytes | None = None):
        """``(status, headers, body bytes)``; HTTP errors are answers too."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def post(self, path: str, body=None, **keywords):
        return self.request("POST", path, body, **keywords)

    def error(self, path: str, body, **keywords) -> tuple[int, str]:
        status, _, data = self.post(path, body, **keywords)
        return status, json.loads(data)["error"]

    def stop(self, sig=signal.SIGTERM, wait: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(wait)
