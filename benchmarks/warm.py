"""Warm requests: HEAD and small GET rates, bulk GET throughput, against nginx in the same run.

    python benchmarks/warm.py [--seconds 10] [--connections 1,16,64,256]

Starts the fake hub and Pulp (scripts/local-pulp defaults), warms one small file (612 B) and one
large file (90.9 MB) through Pulp, gives nginx the same two files, then runs the same load
generator (hey) against both: HEAD and GET of the small file at each connection count, GET of
the large file at 1 and 8 connections. Resident memory and file descriptors of every content
process are sampled throughout. Writes benchmarks/results/warm.json.
"""

import argparse
import tempfile
from pathlib import Path

import requests
from harness import (
    BULK_FILE,
    MODEL_ID,
    SMALL_FILE,
    FakeHub,
    Nginx,
    Pulp,
    Sampler,
    hey,
    log,
    write_result,
)


def warm(url):
    response = requests.get(url, timeout=120)
    response.raise_for_status()
    return response.content


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="1,16,64,256")
    parser.add_argument("--bulk-connections", default="1,8")
    parser.add_argument("--keep", action="store_true", help="leave Pulp running")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]

    hub = FakeHub()
    pulp = Pulp(hub.url)
    nginx = None
    try:
        remote, distribution = pulp.cache("bench-warm", hub.url)
        base = distribution["base_url"].rstrip("/")
        pulp_small = f"{base}/{MODEL_ID}/resolve/main/{SMALL_FILE}"
        pulp_bulk = f"{base}/{MODEL_ID}/resolve/main/{BULK_FILE}"
        root = Path(tempfile.mkdtemp(prefix="bench-root-"))
        (root / SMALL_FILE).write_bytes(warm(pulp_small))
        (root / BULK_FILE).write_bytes(warm(pulp_bulk))
        nginx = Nginx(root)
        hub.reset()  # from here on, every upstream request would be a cache failure
        targets = {
            "pulp": (pulp_small, pulp_bulk),
            "nginx": (f"{nginx.url}/{SMALL_FILE}", f"{nginx.url}/{BULK_FILE}"),
        }
        runs = []
        pids = pulp.content_pids()
        with Sampler(pids) as sampler:
            for count in connections:
                for method in ("HEAD", "GET"):
                    for name, (small, _) in targets.items():
                        log(f"{method} small, {count} connections, {name}")
                        runs.append(
                            {
                                "target": name,
                                "kind": f"{method} small",
                                **hey(small, count, args.seconds, method),
                            }
                        )
            for count in [int(c) for c in args.bulk_connections.split(",")]:
                for name, (_, bulk) in targets.items():
                    log(f"GET bulk, {count} connections, {name}")
                    runs.append(
                        {
                            "target": name,
                            "kind": "GET bulk",
                            **hey(bulk, count, args.seconds, timeout=120),
                        }
                    )
        at_most = {}
        for pid, summary in sampler.summary().items():
            at_most[str(pid)] = summary
        result = {
            "command": "python benchmarks/warm.py "
            + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "keep" and v
            ),
            "content_processes": at_most,
            "upstream_requests_during_load": hub.stats().get("total"),
            "runs": runs,
        }
        write_result("warm", result)
        pulp.drop(remote, distribution)
    finally:
        if nginx:
            nginx.stop()
        if not args.keep:
            pulp.stop()
        hub.stop()


if __name__ == "__main__":
    main()
