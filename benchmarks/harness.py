"""What the benchmarks share: a fake hub, a Pulp started by scripts/local-pulp, nginx, a load
generator (hey), a WAN-emulating TCP proxy (wan.py) and process sampling.

Everything runs on this machine and is started and stopped by the benchmark itself. Pulp keeps
its state in benchmarks/.state (reused between runs: the first start installs and migrates);
large generated files live in benchmarks/.data.
"""

import contextlib
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
STATE = BENCH / ".state"
DATA = BENCH / ".data"
RESULTS = BENCH / "results"
LOCAL_PULP = ROOT / "scripts" / "local-pulp"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
SIZES_ID = "bench/sizes"
SMALL_FILE = "config.json"  # 612 B
BULK_FILE = "model.safetensors"  # 90.9 MB


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@functools.cache
def python():
    """The interpreter of the fake hub and the clients: one with huggingface_hub, aiohttp and the
    test tree (the test venv; Pulp's own venv in benchmarks/.state has no clients)."""
    for candidate in (
        ROOT / ".pulp-test" / "venv" / "bin" / "python",
        STATE / "venv" / "bin" / "python",
        Path(sys.executable),
    ):
        probe = [str(candidate), "-c", "import aiohttp, huggingface_hub, pulp_hugging_face"]
        if (
            candidate.exists()
            and subprocess.run(probe, check=False, capture_output=True).returncode == 0
        ):
            return str(candidate)
    raise SystemExit("no Python with huggingface_hub: run scripts/run-tests --only lint first")


def need(*commands):
    """Install the Debian packages of missing tools (the benchmark runs as root)."""
    packages = {"hey": "hey", "nginx": "nginx-light"}
    missing = [packages[c] for c in commands if shutil.which(c) is None]
    if missing:
        log("installing", *missing)
        subprocess.run(["apt-get", "install", "-y", *missing], check=True, capture_output=True)


def sized_files(sizes):
    """Files of the given sizes (bytes) in benchmarks/.data/sizes, made once (random bytes)."""
    directory = DATA / "sizes"
    directory.mkdir(parents=True, exist_ok=True)
    names = {}
    for size in sizes:
        name = f"file-{size}.bin"
        path = directory / name
        if not path.exists() or path.stat().st_size != size:
            log(f"making {name}")
            with open(path, "wb") as f:
                left = size
                while left:
                    n = min(left, 8 << 20)
                    f.write(os.urandom(n))
                    left -= n
        names[size] = name
    return directory, names


def children(pid):
    found = subprocess.run(["pgrep", "-P", str(pid)], check=False, capture_output=True, text=True)
    out = found.stdout
    return [int(p) for p in out.split()]


class Service:
    """A subprocess with its log file."""

    def __init__(self, name, cmd, ready=None, env=None, timeout=120):
        self.name = name
        self.log_path = Path(tempfile.gettempdir()) / f"bench-{name}-{os.getpid()}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE if ready else self.log, stderr=self.log, env=env
        )
        if ready:
            deadline = time.monotonic() + timeout
            for line in self.process.stdout:
                if ready in line.decode(errors="replace"):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start: see {self.log_path}")
            else:
                raise RuntimeError(f"{name} exited: see {self.log_path}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


class FakeHub(Service):
    """The test tree's fake hub on fixed ports; with `public` ports, its redirects name those
    (a WAN proxy listens there)."""

    def __init__(self, files_repos=(), public=False, name="hub"):
        self.port, self.cdn_port, self.bridge_port = free_port(), free_port(), free_port()
        self.public_port = free_port() if public else self.port
        self.public_cdn_port = free_port() if public else self.cdn_port
        cmd = [
            python(), "-m", "pulp_hugging_face.tests.functional.fake_hub",
            "--port", str(self.port), "--cdn-port", str(self.cdn_port),
            "--bridge-port", str(self.bridge_port),
            "--public-port", str(self.public_port), "--public-cdn-port", str(self.public_cdn_port),
        ]  # fmt: skip
        for repo_id, directory in files_repos:
            cmd += ["--files-repo", f"{repo_id}={directory}"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        super().__init__(name, cmd, ready="READY", env=env, timeout=300)
        self.url = f"http://127.0.0.1:{self.public_port}"
        self.control = f"http://127.0.0.1:{self.port}"

    def reset(self):
        requests.post(f"{self.control}/_fake/reset", json={"all": False}, timeout=10)

    def stats(self):
        return requests.get(f"{self.control}/_fake/stats", timeout=10).json()


class WanProxy(Service):
    """A TCP proxy that adds `delay_ms` each way and limits each direction to `rate_mbit`."""

    def __init__(self, listen, target, delay_ms, rate_mbit, name):
        cmd = [
            sys.executable, str(BENCH / "wan.py"), "--listen", str(listen), "--target", str(target),
            "--delay-ms", str(delay_ms), "--rate-mbit", str(rate_mbit),
        ]  # fmt: skip
        super().__init__(name, cmd, ready="LISTENING")


class Pulp:
    """A Pulp started by scripts/local-pulp in benchmarks/.state, as an operator would run it."""

    def __init__(self, upstream, content_workers=None, extra=()):
        cmd = [str(LOCAL_PULP), "start", "--state-dir", str(STATE), "--upstream", upstream]
        cmd += ["--log-level", "WARNING", *extra]
        if os.environ.get("BENCH_VENV"):  # reuse a venv (default: one in benchmarks/.state)
            cmd += ["--venv", os.environ["BENCH_VENV"]]
        if content_workers:
            cmd += ["--content-workers", str(content_workers)]
        log("starting Pulp:", " ".join(cmd[1:]))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        env = subprocess.run(
            [str(LOCAL_PULP), "env", "--state-dir", str(STATE)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        values = dict(re.findall(r"(\w+)=([^\s\"]+)", env))
        self.endpoint = values["HF_ENDPOINT"]
        self._connect(
            f"http://{values['API_HOST']}:{values['API_PORT']}",
            ("admin", (STATE / "admin-password").read_text().strip()),
        )

    @classmethod
    def attach(cls, api, auth):
        """A Pulp that runs already (the benchmark neither starts nor stops it)."""
        pulp = cls.__new__(cls)
        pulp._connect(api.rstrip("/"), auth)
        return pulp

    def _connect(self, api, auth):
        self.api, self.auth = api, auth
        self.session = requests.Session()
        self.session.auth = self.auth
        self.session.trust_env = False

    def stop(self):
        subprocess.run([str(LOCAL_PULP), "stop", "--state-dir", str(STATE)], check=False)

    def call(self, method, path, body=None):
        url = path if path.startswith("http") else self.api + path
        response = self.session.request(method, url, json=body, timeout=120)
        response.raise_for_status()
        data = response.json() if response.content else {}
        if isinstance(data, dict) and "task" in data:
            return self.wait(data["task"])
        return data

    def wait(self, task_href):
        while True:
            task = self.session.get(self.api + task_href, timeout=30).json()
            if task["state"] == "completed":
                created = task.get("created_resources") or []
                return self.call("GET", created[0]) if created else task
            if task["state"] in ("failed", "canceled"):
                raise RuntimeError(json.dumps(task.get("error")))
            time.sleep(0.1)

    def cache(self, name, upstream, **remote_fields):
        """A new remote + distribution (base path `name`): a cache that has nothing yet."""
        for kind in ("distributions", "remotes"):  # left by an interrupted run
            found = self.call("GET", f"/pulp/api/v3/{kind}/hugging_face/hugging_face/?name={name}")
            for old in found.get("results", []):
                self.call("DELETE", old["pulp_href"])
        remote = self.call(
            "POST",
            "/pulp/api/v3/remotes/hugging_face/hugging_face/",
            {"name": name, "url": upstream, **remote_fields},
        )
        distribution = self.call(
            "POST",
            "/pulp/api/v3/distributions/hugging_face/hugging_face/",
            {"name": name, "base_path": name, "remote": remote["pulp_href"]},
        )
        return remote, distribution

    def drop(self, remote, distribution):
        """Delete a cache and everything it stored (orphan cleanup with no protection time)."""
        self.call("DELETE", distribution["pulp_href"])
        self.call("DELETE", remote["pulp_href"])
        self.call("POST", "/pulp/api/v3/orphans/cleanup/", {"orphan_protection_time": 0})

    def content_pids(self):
        """The pids of the content app's gunicorn workers (not the arbiter)."""
        pids = []
        for pidfile in (STATE / "run").glob("content*.pid"):
            pids += children(int(pidfile.read_text().split()[0]))
        return pids


class Nginx:
    """nginx serving `root` on a free port: the reference for serving files from disk."""

    def __init__(self, root, workers=2):
        need("nginx")
        root = Path(root)
        for path in (root, *root.rglob("*")):  # nginx's workers run as another user
            path.chmod(0o755 if path.is_dir() else 0o644)
        self._start(workers, f"root {root};")

    def _start(self, workers, server, http=""):
        self.port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        (self.prefix / "logs").mkdir()
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            f"""
worker_processes {workers};
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/logs/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log {self.prefix}/logs/access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    types {{ application/json json; application/octet-stream bin safetensors; }}
    {http}
    server {{
        listen 127.0.0.1:{self.port};
        {server}
    }}
}}
"""
        )
        subprocess.run(["nginx", "-c", str(conf), "-p", str(self.prefix)], check=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers

    def pids(self):
        return children(int((self.prefix / "nginx.pid").read_text()))

    def stop(self):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.kill(int((self.prefix / "nginx.pid").read_text()), signal.SIGQUIT)
        time.sleep(0.5)
        shutil.rmtree(self.prefix, ignore_errors=True)


class Balancer(Nginx):
    """nginx in front of several content apps, as Pulp deployments put a reverse proxy there.

    A request an app cannot take (refused or cut before its answer began: the app is down or
    restarting) goes to the next app; an app that failed is left out for `fail_timeout`. Bodies
    are streamed, not buffered. The `Host` the client sent is passed on, so Pulp's links name
    the balancer.
    """

    def __init__(self, origins, workers=2, fail_timeout=3):
        need("nginx")
        servers = "\n".join(
            f"server {urlsplit(o).netloc} max_fails=1 fail_timeout={fail_timeout}s;"
            for o in origins
        )
        http = f"""upstream content {{
        {servers}
        keepalive 256;
    }}"""
        server = """location / {
            proxy_pass http://content;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
        }"""
        self._start(workers, server, http)


_PERCENTILE = re.compile(r"^\s*(\d+)%% in ([\d.]+) secs".replace("%%", "%"), re.MULTILINE)


def hey(url, connections, seconds, method="GET", timeout=20):
    """One load run: requests/s, latency percentiles (ms), bytes/s, and every non-2xx or error."""
    need("hey")
    cmd = ["hey", "-z", f"{seconds}s", "-c", str(connections), "-m", method, "-t", str(timeout)]
    out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True).stdout
    result = {"url": url, "connections": connections, "method": method, "seconds": seconds}
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = float(re.search(r"Total:\s+([\d.]+) secs", out).group(1))
    data = re.search(r"Total data:\s+(\d+) bytes", out)
    result["bytes_per_s"] = int(data.group(1)) / total if data and method == "GET" else 0
    result["latency_ms"] = {f"p{p}": float(v) * 1000 for p, v in _PERCENTILE.findall(out)}
    statuses = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    result["statuses"] = {k: int(v) for k, v in statuses.items()}
    errors = out.split("Error distribution:")[1].strip() if "Error distribution:" in out else ""
    result["errors"] = errors.splitlines()
    result["ok"] = not errors and set(statuses) <= {"200", "206"}
    return result


class Sampler:
    """Samples resident memory (MB) and open file descriptors of processes while it runs."""

    def __init__(self, pids, interval=0.2, rescan=10.0):
        """`pids`: a list, or a function giving the pids now (called every `rescan` seconds,
        so processes started during the run, such as a restarted app, are sampled too)."""
        self._find = pids if callable(pids) else (lambda: pids)
        self.interval, self.rescan = interval, rescan
        self.samples = {}
        self.names = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        scanned = None
        while not self._stop.is_set():
            if scanned is None or time.monotonic() - scanned > self.rescan:
                scanned = time.monotonic()
                for pid in self._find():
                    self.samples.setdefault(pid, [])
                    with contextlib.suppress(OSError):
                        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                        self.names.setdefault(pid, " ".join(c.decode() for c in command[:3]))
            for pid in self.samples:
                with contextlib.suppress(OSError, ValueError):
                    status = Path(f"/proc/{pid}/status").read_text()
                    found = re.search(r"VmRSS:\s+(\d+) kB", status)
                    if found is None:  # exited (a zombie has no memory)
                        continue
                    rss = int(found.group(1)) / 1024
                    fds = len(os.listdir(f"/proc/{pid}/fd"))
                    self.samples[pid].append((time.monotonic(), rss, fds))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def summary(self):
        out = {}
        for pid, samples in self.samples.items():
            if samples:
                rss = [s[1] for s in samples]
                fds = [s[2] for s in samples]
                out[pid] = {
                    "command": self.names.get(pid, ""),
                    "seconds": round(samples[-1][0] - samples[0][0]),
                    "rss_mb": {"start": rss[0], "end": rss[-1], "max": max(rss)},
                    "fds": {"start": fds[0], "end": fds[-1], "max": max(fds)},
                }
        return out


def write_result(name, data):
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        **data,
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    log("wrote", path.relative_to(ROOT))
    return path
