"""A soak: a HEAD and GET mix at 256 connections against two content apps, with restarts.

    python benchmarks/soak.py [--minutes 10] [--connections 256] [--no-restarts]

Pulp runs with two content apps (scripts/local-pulp --content-apps 2) and nginx in front of
both as the balancer (`harness.Balancer`: a request an app cannot take goes to the other). A
third of the connections go straight to app 1, a third straight to app 2, a third through the
balancer. The mix: HEAD of a small file, GET of it, GET of 1 MiB ranges of the 90.9 MB file and
GET of a 6 MB file, all warm. Besides, real huggingface_hub clients (`soak_client.py`) download
in a loop, each round into a new cache: most through the balancer, some straight to app 2.

During the run, on app 2 only: a graceful restart (SIGHUP: gunicorn replaces its workers), a
`kill -9` of the whole app and its start again, then a `kill -9` of the task workers and a
restart of PostgreSQL that keeps it down for 9 s (both apps see that one). A request cut by
app 2's restart is retried once, as huggingface_hub retries a cut download; what still fails
counts. Resident memory and open file descriptors of every Pulp process are sampled
throughout. Writes benchmarks/results/soak.json.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import requests
from harness import (
    BENCH,
    LOCAL_PULP,
    MODEL_ID,
    STATE,
    Balancer,
    FakeHub,
    Pulp,
    Sampler,
    children,
    log,
    python,
    write_result,
)

MIX = (("HEAD", "config.json", None, 45), ("GET", "config.json", None, 35),
       ("RANGE", "model.safetensors", 1 << 20, 15), ("GET", "big.bin", None, 5))  # fmt: skip
BIG = 90_868_376  # model.safetensors


def pids_of(name):
    pidfile = STATE / "run" / f"{name}.pid"
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


def all_pulp_pids():
    pids = []
    for pidfile in (STATE / "run").glob("*.pid"):
        with open(pidfile) as f:
            try:
                pid = int(f.read().split()[0])
            except (ValueError, IndexError):
                continue
        pids += [pid, *children(pid)]
    return pids


class Load:
    def __init__(self, bases, connections, retry_cut):
        self.bases, self.connections, self.retry_cut = bases, connections, retry_cut
        self.latencies = {"HEAD": [], "GET": [], "RANGE": []}
        self.errors, self.retried, self.count = [], 0, 0
        self.running = True

    async def one(self, session, base):
        method, name, length, _ = random.choices(MIX, weights=[m[3] for m in MIX])[0]
        url = f"{base}/{MODEL_ID}/resolve/main/{name}"
        headers = {}
        if method == "RANGE":
            start = random.randrange(0, BIG - length)
            headers["Range"] = f"bytes={start}-{start + length - 1}"
        for attempt in (1, 2):
            started = time.monotonic()
            try:
                verb = "HEAD" if method == "HEAD" else "GET"
                async with session.request(verb, url, headers=headers) as response:
                    body = await response.read()
                    ok = response.status == (206 if method == "RANGE" else 200)
                    if method == "RANGE":
                        ok = ok and len(body) == length
                    if not ok:
                        self.errors.append(f"{method} {name}: {response.status}")
                    self.latencies[method].append(time.monotonic() - started)
                    return
            except (TimeoutError, aiohttp.ClientError) as exc:
                if attempt == 1 and self.retry_cut:
                    self.retried += 1
                    continue
                self.errors.append(f"{method} {name}: {type(exc).__name__}: {exc}"[:200])
                return
            finally:
                self.count += 1

    async def worker(self, session, base):
        while self.running:
            await self.one(session, base)

    async def run(self, seconds):
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(limit=self.connections, force_close=False)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            per_base = self.connections // len(self.bases)
            tasks = [
                asyncio.ensure_future(self.worker(session, base))
                for base in self.bases
                for _ in range(per_base)
            ]
            await asyncio.sleep(seconds)
            self.running = False
            await asyncio.gather(*tasks, return_exceptions=True)

    def summary(self):
        out = {"requests": self.count, "errors": len(self.errors), "retried_once": self.retried,
               "error_samples": sorted(set(self.errors))[:20]}  # fmt: skip
        for method, values in self.latencies.items():
            if values:
                values = sorted(values)
                out[f"{method}_p50_ms"] = statistics.median(values) * 1000
                out[f"{method}_p99_ms"] = values[int(len(values) * 0.99)] * 1000
        return out


def local_pulp(*args):
    subprocess.run([str(LOCAL_PULP), *args, "--state-dir", str(STATE)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def restarts(pulp, minutes, events):
    """The disruptions, spread over the run, all on the second content app."""
    step = minutes * 60 / 5

    def at(k, what, action):
        time.sleep(max(0.0, start + k * step - time.monotonic()))
        log(what)
        events.append({"t": round(time.monotonic() - start, 1), "event": what})
        action()

    def graceful():
        os.kill(pids_of("content-2"), signal.SIGHUP)

    def crash():
        os.killpg(pids_of("content-2"), signal.SIGKILL)
        time.sleep(1)
        local_pulp("start", "--no-setup")

    def workers():
        for name in ("worker-1", "worker-2"):
            if pid := pids_of(name):
                os.killpg(pid, signal.SIGKILL)
        local_pulp("start", "--no-setup")

    def database():
        # Down for 9 s, longer than a content app's heartbeat interval (7 s): each app's
        # heartbeat falls in the outage. Which API and content processes were replaced?
        names = ("api", "content", "content-2")
        before = {name: [pids_of(name), *sorted(children(pids_of(name)))] for name in names}
        local_pulp("restart-postgres", "--down", "9")
        after = {name: [pids_of(name), *sorted(children(pids_of(name)))] for name in names}
        events[-1]["processes_replaced"] = [name for name in names if before[name] != after[name]]

    start = time.monotonic()
    at(1, "graceful restart of content app 2 (SIGHUP)", graceful)
    at(2, "kill -9 of content app 2, then start", crash)
    at(3, "kill -9 of the task workers, then start", workers)
    at(4, "restart of PostgreSQL, 9 s down", database)


class HubClients:
    """`count` huggingface_hub client processes (soak_client.py) against `endpoint`."""

    def __init__(self, endpoint, count, seconds, name):
        self.dir = Path(tempfile.mkdtemp(prefix=f"soak-{name}-"))
        env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HOME")}
        self.processes = []
        for i in range(count):
            out = self.dir / f"{i}.jsonl"
            command = [python(), str(BENCH / "soak_client.py"), endpoint, str(seconds), str(out)]
            with open(self.dir / f"{i}.log", "wb") as stderr:
                self.processes.append(
                    subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
                )

    def summary(self):
        for process in self.processes:
            process.wait()
        rounds = [
            json.loads(line)
            for path in sorted(self.dir.glob("*.jsonl"))
            for line in path.read_text().splitlines()
        ]
        seconds = sorted(r["seconds"] for r in rounds)
        failed = [r for r in rounds if r["error"]]
        return {
            "clients": len(self.processes),
            "rounds": len(rounds),
            "failed_rounds": len(failed),
            "failures": [{"t": r["t"], "error": r["error"]} for r in failed][:20],
            "round_p50_s": statistics.median(seconds) if seconds else None,
            "round_p99_s": seconds[int(len(seconds) * 0.99)] if seconds else None,
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--hub-clients", type=int, default=6, help="through the balancer")
    parser.add_argument("--direct-hub-clients", type=int, default=2, help="straight to app 2")
    parser.add_argument("--no-restarts", action="store_true")
    args = parser.parse_args()
    hub = FakeHub()
    pulp = Pulp(hub.url, extra=["--content-apps", "2"])
    balancer = None
    try:
        remote, distribution = pulp.cache("bench-soak", hub.url)
        env = subprocess.run([str(LOCAL_PULP), "env", "--state-dir", str(STATE)], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
        urls = env.split("PULP_HF_CONTENT_URLS=")[1].split()[0].split(",")
        path = distribution["base_url"].split("/pulp/content/", 1)[1].rstrip("/")
        bases = [f"{u}/pulp/content/{path}" for u in urls]
        for base in bases:
            for _, name, _, _ in MIX:
                requests.get(
                    f"{base}/{MODEL_ID}/resolve/main/{name}", timeout=300
                ).raise_for_status()
        balancer = Balancer(urls)
        balanced = f"{balancer.url}/pulp/content/{path}"
        requests.get(f"{balanced}/{MODEL_ID}/resolve/main/config.json").raise_for_status()
        hub.reset()
        events = []
        third = args.connections // 3
        loads = [Load([bases[0]], third, False), Load([bases[1]], third, True),
                 Load([balanced], args.connections - 2 * third, True)]  # fmt: skip
        seconds = args.minutes * 60
        clients = [
            HubClients(balanced, args.hub_clients, seconds, "balanced"),
            HubClients(bases[1], args.direct_hub_clients, seconds, "app2"),
        ]
        with Sampler(all_pulp_pids, interval=2) as sampler:
            disruptions = None
            if not args.no_restarts:
                disruptions = threading.Thread(target=restarts, args=(pulp, args.minutes, events))
                disruptions.start()

            async def all_loads():
                await asyncio.gather(*(load.run(seconds) for load in loads))

            asyncio.run(all_loads())
            if disruptions:
                disruptions.join()
        result = {
            "command": f"python benchmarks/soak.py --minutes {args.minutes:g} "
            f"--connections {args.connections}" + (" --no-restarts" if args.no_restarts else ""),
            "app_1_untouched": loads[0].summary(),
            "app_2_restarted": loads[1].summary(),
            "through_the_balancer": loads[2].summary(),
            "hub_clients_through_the_balancer": clients[0].summary(),
            "hub_clients_straight_to_app_2": clients[1].summary(),
            "events": events,
            "upstream_requests": hub.stats()["total"],
            "processes": sampler.summary(),
        }
        write_result("soak", result)
        pulp.drop(remote, distribution)
    finally:
        if balancer is not None:
            balancer.stop()
        pulp.stop()
        hub.stop()


if __name__ == "__main__":
    main()
