"""Several content apps on one database and one storage, as production runs them.

scripts/run-tests (phase `multihost`) and `scripts/local-pulp --content-apps N` start them and
export, comma-separated and in the same order:

    PULP_HF_CONTENT_URLS       http://127.0.0.1:P1,http://127.0.0.1:P2   (app 1 = CONTENT_ORIGIN)
    PULP_HF_CONTENT_PIDFILES   <state>/run/content.pid,<state>/run/content-2.pid

A pid file holds "PID STARTTIME" of the app's gunicorn master, which leads its own process
group (its workers are in it), so `ContentApp.kill()` crashes one app as a machine would lose it.

Also here: which content app made an upstream request (`app_of_peer`, from the fake hub's
`peer` of a request whose connection is still open), upstream bytes and metadata requests as
the fake hub counts them, and a streaming GET that records when its bytes arrived.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

import pulp_hugging_face

REPO_ROOT = Path(pulp_hugging_face.__file__).resolve().parents[1]
LOCAL_PULP = REPO_ROOT / "scripts" / "local-pulp"
# huggingface_hub's HF_HUB_DOWNLOAD_TIMEOUT: a client gives up after 10 s without a byte.
CLIENT_READ_TIMEOUT = 10


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state, ppid, pgrp, ...), or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def _live(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def process_group(pgid: int) -> set[int]:
    """Live processes whose process group is `pgid`."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and fields[0] != "Z" and fields[2] == str(pgid):
                out.add(int(entry))
    return out


@dataclass
class ContentApp:
    """One pulpcore-content process (gunicorn master and workers) of the test Pulp."""

    index: int  # 1-based; app 1 answers at CONTENT_ORIGIN
    url: str  # http://host:port, no path
    pidfile: Path

    @property
    def name(self) -> str:
        return self.pidfile.stem

    def master_pid(self) -> int | None:
        """The pid recorded at start, if that process still runs (same start time)."""
        try:
            pid, start = self.pidfile.read_text().split()[:2]
        except (OSError, ValueError):
            return None
        fields = _stat_fields(int(pid))
        if fields is None or fields[0] == "Z" or fields[19] != start:
            return None
        return int(pid)

    def pids(self) -> set[int]:
        """The master and its workers."""
        master = self.master_pid()
        return process_group(master) if master else set()

    def alive(self) -> bool:
        return self.master_pid() is not None

    def kill(self, timeout: float = 10) -> set[int]:
        """SIGKILL the master and its workers at once (a crash, not a shutdown); returns
        the pids killed once they are all gone."""
        master = self.master_pid()
        if master is None:
            raise RuntimeError(f"content app {self.name} does not run")
        pids = process_group(master)
        os.killpg(master, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while any(_live(pid) for pid in pids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {sorted(p for p in pids if _live(p))} survived")
            time.sleep(0.05)
        return pids

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/pulp/content/", timeout=5).status_code < 500
        except requests.RequestException:
            return False


def content_apps_from_env() -> list[ContentApp]:
    urls = [u for u in os.environ.get("PULP_HF_CONTENT_URLS", "").split(",") if u]
    pidfiles = [p for p in os.environ.get("PULP_HF_CONTENT_PIDFILES", "").split(",") if p]
    if not urls:
        origin = os.environ.get("PULP_HF_CONTENT_ORIGIN")
        urls = [origin] if origin else []
    return [
        ContentApp(k + 1, url.rstrip("/"), Path(pidfiles[k]) if k < len(pidfiles) else Path())
        for k, url in enumerate(urls)
    ]


def restart_stopped_apps(
    state_dir: str | os.PathLike, timeout: float = 300, env: dict | None = None
) -> None:
    """Start again what is not running (a killed content app) with scripts/local-pulp, on the
    same ports and settings (and `env`, default this process's); waits until every app
    answers."""
    env = dict(os.environ if env is None else env, LP_SKIP_VENV="1")  # the venv is complete
    done = subprocess.run(
        [str(LOCAL_PULP), "start", "--no-setup", "--state-dir", str(state_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"local-pulp start failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def on_app(url: str, app: ContentApp | str) -> str:
    """`url` (e.g. a distribution's base_url, at CONTENT_ORIGIN) at another app's origin."""
    target = urlsplit(app.url if isinstance(app, ContentApp) else app)
    parts = urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


# ---- which process holds a connection -----------------------------------------------------


def _socket_inodes(local_port: int) -> set[str]:
    """Inodes of the TCP sockets whose local port is `local_port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == local_port and fields[9] != "0":
                inodes.add(fields[9])
    return inodes


def connection_owner(local_port: int, pids) -> int | None:
    """Which of `pids` holds an open TCP socket with this local port (None: none of them, or
    the connection is closed already)."""
    inodes = {f"socket:[{inode}]" for inode in _socket_inodes(local_port)}
    if not inodes:
        return None
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
            except OSError:
                continue
    return None


def app_of_peer(apps: list[ContentApp], peer: str | None) -> ContentApp | None:
    """The content app that made a fake-hub request, from its log entry's `peer`
    ("127.0.0.1:41234"), while the request's connection is open."""
    if not peer:
        return None
    port = int(peer.rsplit(":", 1)[1])
    for app in apps:
        if connection_owner(port, app.pids()) is not None:
            return app
    return None


# ---- what the fake hub saw ------------------------------------------------------------------


def cdn_requests_for(stats: dict, sha256: str) -> list[dict]:
    """CDN and bridge requests for one LFS blob."""
    return [e for e in stats["cdn_requests"] if e["file"] == sha256]


def upstream_body_bytes(stats: dict, sha256: str | None = None) -> int:
    """Body bytes the CDN and bridge served (for one blob, if given)."""
    entries = cdn_requests_for(stats, sha256) if sha256 else stats["cdn_requests"]
    return sum(e["bytes"] for e in entries)


def metadata_requests(stats: dict) -> dict:
    """Upstream metadata requests by what they ask: `resolve` (HEAD or GET of a resolve URL,
    which the hub answers with the file's facts or a redirect), `resolve-cache` (the follow-up
    of a small file's relative 307, same facts again), `api` (info, revision, tree...)."""
    out = {"resolve": 0, "resolve-cache": 0, "api": 0}
    for e in stats["requests"]:
        if e["kind"] == "api":
            out["api"] += 1
        elif e["action"] in ("resolve", "resolve-cache"):
            out[e["action"]] += 1
    out["logical"] = out["resolve"] + out["api"]
    return out


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---- a client that records its bytes as they arrive ----------------------------------------


@dataclass
class StreamingGet:
    """A GET in a thread, as a Hub client does it (streamed, 10 s read timeout), recording
    status, headers, size, sha256, when its bytes arrived and how it ended.

        get = StreamingGet(url).start()
        get.join(60)
        assert get.error is None and get.sha256 == expected
    """

    url: str
    headers: dict = field(default_factory=dict)
    read_timeout: float = CLIENT_READ_TIMEOUT
    chunk_size: int = 64 * 1024
    status: int | None = None
    response_headers: dict = field(default_factory=dict)
    size: int = 0
    body: bytes | None = None  # kept only when keep_body
    keep_body: bool = False
    error: BaseException | None = None
    started: float | None = None
    finished: float | None = None
    arrivals: list = field(default_factory=list)  # (monotonic time, bytes so far)
    _hash: object = field(default_factory=hashlib.sha256, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> StreamingGet:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        self.started = time.monotonic()
        pieces = []
        try:
            headers = {"Accept-Encoding": "identity", **self.headers}
            with requests.get(
                self.url, headers=headers, stream=True, timeout=(5, self.read_timeout)
            ) as response:
                self.status = response.status_code
                self.response_headers = dict(response.headers)
                for chunk in response.iter_content(self.chunk_size):
                    self._hash.update(chunk)
                    self.size += len(chunk)
                    self.arrivals.append((time.monotonic(), self.size))
                    if self.keep_body:
                        pieces.append(chunk)
        except BaseException as exc:  # noqa: BLE001 - recorded for the test to judge
            self.error = exc
        finally:
            self.finished = time.monotonic()
            if self.keep_body:
                self.body = b"".join(pieces)

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def done(self) -> bool:
        return self.finished is not None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def longest_gap(self, since: float | None = None) -> float:
        """The longest time without a byte, from `since` (or the start) to the end."""
        times = [self.started if since is None else since]
        times += [t for t, _ in self.arrivals if since is None or t >= since]
        times.append(self.finished if self.finished is not None else time.monotonic())
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def first_byte_after(self, moment: float) -> float | None:
        return next((t for t, _ in self.arrivals if t >= moment), None)
