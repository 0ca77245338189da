"""Warm request rate: HEADs (and GETs) per second of one file already in the cache.

Starts the fake hub, creates a fresh remote + distribution in a running Pulp, pulls one file
through once, then sends requests to its resolve URL from a number of concurrent aiohttp
clients for some seconds, several rounds, and prints requests per second. (Not `wrk`: it waits
for a body after a HEAD that names a Content-Length.) Used to check that recording the last access of a file
(`app/access.py`) does not lower the warm rate.

    python benchmarks/warm_head.py --api http://127.0.0.1:24817 --password ... [--rounds 3]
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import requests
from harness import Pulp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID, FakeHub


def cpu_seconds(pidfile):
    """CPU time (user + system) so far of a gunicorn master named in `pidfile` and its workers."""
    if not pidfile:
        return None
    master = int(Path(pidfile).read_text().split()[0])
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if master in (pid, ppid):
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def hey_load(url, method, seconds, connections):
    """`load` with `hey` (Debian: apt-get install hey), which needs less CPU than Python."""
    cmd = ["hey", "-z", f"{seconds}s", "-c", str(connections), "-m", method, url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    statuses = {k: int(v) for k, v in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    done = sum(statuses.values())
    return rate, done - statuses.get("200", 0), done


async def load(url, method, seconds, connections):
    """(requests per second, non-200 answers, requests) over `seconds` with `connections`
    clients."""
    done, failed = 0, 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client():
            nonlocal done, failed
            while time.monotonic() < deadline:
                async with session.request(method, url) as response:
                    await response.read()
                    done += 1
                    failed += response.status != 200

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(connections)))
        return round(done / (time.monotonic() - started), 1), failed, done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:24817")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--get", action="store_true", help="also measure warm GETs")
    parser.add_argument("--hey", action="store_true", help="load with hey instead of aiohttp")
    parser.add_argument(
        "--content-pidfile",
        help="the content app's pid file: also report its CPU milliseconds per request",
    )
    args = parser.parse_args()
    auth = (args.username, args.password)

    with FakeHub() as hub:
        pulp = Pulp.attach(args.api, auth)
        remote, distribution = pulp.cache(f"bench-{uuid.uuid4().hex[:8]}", hub.url)
        url = f"{distribution['base_url'].rstrip('/')}/{MODEL_ID}/resolve/main/config.json"
        requests.get(url).raise_for_status()  # cold: pulled through once
        hub.reset()
        result = {"url_kind": "resolve/main (branch, fresh within metadata_ttl)", "head": []}
        if args.get:
            result["get"] = []
        if args.content_pidfile:
            result["head_cpu_ms"] = []
        for _ in range(args.rounds):
            cpu = cpu_seconds(args.content_pidfile)
            if args.hey:
                rate, failed, done = hey_load(url, "HEAD", args.seconds, args.connections)
            else:
                rate, failed, done = asyncio.run(load(url, "HEAD", args.seconds, args.connections))
            result["head"].append((rate, failed))
            if cpu is not None:
                spent = cpu_seconds(args.content_pidfile) - cpu
                result["head_cpu_ms"].append(round(1000 * spent / max(done, 1), 2))
            if args.get:
                rate, failed, _ = asyncio.run(load(url, "GET", args.seconds, args.connections))
                result["get"].append((rate, failed))
        result["upstream_requests_while_warm"] = hub.count()
        pulp.call("DELETE", distribution["pulp_href"])
        pulp.call("DELETE", remote["pulp_href"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
