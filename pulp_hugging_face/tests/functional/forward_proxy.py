"""A real HTTP forward proxy for functional tests: proxy.py (PyPI `proxy.py`) in a subprocess.

    with ForwardProxy(username="user", password="secret") as proxy:
        remote = {"proxy_url": proxy.url, "proxy_username": proxy.username,
                  "proxy_password": proxy.password}
        ...
        assert {r["target"] for r in proxy.requests()} == {"127.0.0.1:8900"}

It forwards plain HTTP (absolute-form requests) and tunnels HTTPS (CONNECT), to loopback targets
only: anything else is refused with 403, so a test can never send traffic off the machine. With
`username`/`password` it wants basic proxy auth and answers 407 without it.

`requests()` lists what reached the proxy, one dict per request in arrival order: "method"
("CONNECT" for a tunnel), "target" ("host:port"), "host", "port", "path" (origin-form; None for
a tunnel), "tunnel", "status" (407, 403 or 502 when the proxy refused it itself, else None),
"upstream" (the "host:port" the connection goes to), "headers" (as the client sent them to the
proxy) and "time". They come from `RecordingAuthPlugin` below, which proxy.py loads in its own
process and which appends them to a JSON-lines file.

proxy.py sends every request of a kept-alive plain-HTTP client connection to the first one's
target (a client that pools proxy connections across hosts, like urllib3 does, would reach the
hub when it asks for the CDN). So the plugin adds `Connection: close` to plain-HTTP answers, and
refuses with 502 a later request for another target should one still come. Tunnels are untouched.

Only the standard library is needed to drive the proxy; its interpreter needs proxy.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

LOG_ENV = "PULP_HF_FORWARD_PROXY_LOG"  # where the plugin appends its JSON lines
_SOURCE_ROOT = Path(__file__).resolve().parents[3]  # the directory holding pulp_hugging_face/
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")

try:  # Only proxy.py's process needs the plugin; the tests' own need not have proxy.py.
    from proxy.http.exception import HttpRequestRejected, ProxyAuthenticationFailed
    from proxy.http.proxy.auth import AuthPlugin
except ImportError:  # pragma: no cover
    AuthPlugin = None


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


if AuthPlugin is not None:

    def _text(value) -> str | None:
        return value.decode("latin-1") if isinstance(value, bytes) else value

    class RecordingAuthPlugin(AuthPlugin):
        """proxy.py's basic auth (when --basic-auth is given), a loopback-only rule, and one
        JSON line per request. One instance per client connection."""

        upstream: str | None = None
        first = None
        tunnel = False
        answered = False  # the first upstream chunk of a plain-HTTP connection went by

        def _record(self, request, status=None) -> None:
            host, port = _text(request.host), request.port
            tunnel = request.is_https_tunnel
            headers = {_text(k): _text(v) for k, v in (request.headers or {}).values()}
            entry = {
                "method": _text(request.method),
                "target": f"{host}:{port}",
                "host": host,
                "port": port,
                "path": None if tunnel else _text(request.path),
                "tunnel": tunnel,
                "status": status,
                "upstream": self.upstream if status is None else None,
                "headers": headers,
                "time": time.time(),
            }
            line = (json.dumps(entry) + "\n").encode()
            fd = os.open(os.environ[LOG_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)  # one write per line: whole lines even from two processes
            finally:
                os.close(fd)

        def before_upstream_connection(self, request):
            """The first request of a connection (the only one proxy.py authenticates)."""
            try:
                request = super().before_upstream_connection(request)
            except ProxyAuthenticationFailed:
                self._record(request, 407)
                raise
            host = _text(request.host) or ""
            if not is_loopback(host):
                self._record(request, 403)
                raise HttpRequestRejected(
                    status_code=403, reason=b"Forbidden", body=b"loopback targets only"
                )
            self.upstream, self.first = f"{host}:{request.port}", request
            self.tunnel = request.is_https_tunnel
            self._record(request)
            return request

        def handle_client_request(self, request):
            """Every request: the first one again (already recorded), then pipelined ones."""
            if request is self.first:
                self.first = None
                return request
            target = f"{_text(request.host)}:{request.port}"
            if request.host is not None and target != self.upstream:
                self._record(request, 502)
                raise HttpRequestRejected(
                    status_code=502,
                    reason=b"Bad Gateway",
                    body=b"proxy.py cannot switch a kept-alive connection to another target",
                )
            self._record(request)
            return request

        def handle_upstream_chunk(self, chunk):
            """`Connection: close` after the status line of a plain-HTTP answer."""
            if self.answered or self.upstream is None or self.tunnel:
                return chunk
            self.answered = True
            raw = chunk.tobytes()
            end = raw.find(b"\r\n")
            if not raw.startswith(b"HTTP/") or end < 0:
                return chunk
            return memoryview(raw[: end + 2] + b"Connection: close\r\n" + raw[end + 2 :])


class ForwardProxy:
    """Start/stop proxy.py on a free loopback port and read what went through it."""

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        python: str | None = None,
        timeout: float = 60,
        startup_timeout: float = 30,
    ):
        if (username is None) != (password is None) or ":" in (username or ""):
            raise ValueError("give both username and password (no ':' in the username)")
        self.username, self.password = username, password
        self.host, self.port = host, port
        self.python = python or sys.executable
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.dir: str | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:P, what a Pulp remote's `proxy_url` takes (no credentials in it)."""
        return f"http://{self.host}:{self.port}"

    @property
    def url_with_credentials(self) -> str:
        """http://user:pass@127.0.0.1:P, for clients that take credentials in the proxy URL."""
        if self.username is None:
            return self.url
        return f"http://{self.username}:{self.password}@{self.host}:{self.port}"

    @property
    def requests_path(self) -> Path:
        return Path(self.dir) / "requests.jsonl"

    @property
    def log_path(self) -> Path:
        return Path(self.dir) / "proxy.log"

    # ---- process ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start proxy.py; after stop(), starts again on the same port."""
        if self.process is not None and self.process.poll() is None:
            return self
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="forward-proxy-")
        port_file = Path(self.dir) / "port"
        port_file.unlink(missing_ok=True)
        data = Path(self.dir) / "data"  # proxy.py makes its dirs there, not in ~/.proxy
        cmd = [
            self.python,
            "-m",
            "proxy",
            "--hostname",
            self.host,
            "--port",
            str(self.port or 0),
            "--port-file",
            str(port_file),
            "--num-acceptors",
            "1",
            "--num-workers",
            "1",
            "--timeout",
            str(self.timeout),
            "--data-dir",
            str(data),
            "--cache-dir",
            str(data / "cache"),
            "--auth-plugin",
            f"{__name__}.RecordingAuthPlugin",
            "--log-level",
            "INFO",
            "--log-file",
            str(self.log_path),
        ]
        if self.username is not None:
            cmd += ["--basic-auth", f"{self.username}:{self.password}"]
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env[LOG_ENV] = str(self.requests_path)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(_SOURCE_ROOT), os.environ.get("PYTHONPATH")])
        )
        self.requests_path.touch()
        with open(Path(self.dir) / "stderr.log", "ab") as stderr:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                cwd=self.dir,
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            text = port_file.read_text() if port_file.exists() else ""
            if text.endswith("\n"):
                self.port = int(text.split()[0])
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"proxy.py did not start; log:\n{self.log()}")

    def stop(self) -> None:
        """Stop proxy.py (SIGTERM: it shuts its acceptor processes down), and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        """stop() and remove the temp dir (logs included)."""
        self.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log(self) -> str:
        if self.dir is None:
            return ""
        paths = (self.log_path, Path(self.dir) / "stderr.log")
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- what went through it -----------------------------------------------------------------

    def requests(self) -> list[dict]:
        """The requests that reached the proxy since the last reset(), in arrival order."""
        if self.dir is None or not self.requests_path.exists():
            return []
        lines = self.requests_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def count(self, status: int | None = None) -> int:
        """How many requests were forwarded (status None) or refused with `status`."""
        return sum(r["status"] == status for r in self.requests())

    def targets(self) -> list[str]:
        """The "host:port" of every forwarded request or tunnel."""
        return [r["target"] for r in self.requests() if r["status"] is None]

    def reset(self) -> None:
        if self.dir is not None:
            self.requests_path.write_text("")
