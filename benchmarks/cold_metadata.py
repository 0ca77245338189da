"""How long do N concurrent cold metadata requests take when every upstream answer is slow?

Starts the fake hub with a fixed latency per request, creates a fresh remote + distribution in a
running Pulp, then sends N concurrent HEADs of distinct, never-seen resolve URLs (each one
needs its own upstream answer) and N concurrent tree listings of distinct paths. If the
content app blocked on upstream calls, the wall time would be close to N x latency.

    python benchmarks/cold_metadata.py --api http://127.0.0.1:24817 --password ... [-n 50]
"""

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import aiohttp
from harness import Pulp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID, FakeHub


async def timed_burst(urls, method):
    async with aiohttp.ClientSession() as session:

        async def one(url):
            async with session.request(method, url) as response:
                await response.read()
                return response.status

        started = time.monotonic()
        statuses = await asyncio.gather(*(one(url) for url in urls))
        return time.monotonic() - started, statuses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:24817")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.5)
    args = parser.parse_args()
    auth = (args.username, args.password)

    with FakeHub() as hub:
        hub.configure(latency=args.latency)
        pulp = Pulp.attach(args.api, auth)
        remote, distribution = pulp.cache(f"bench-{uuid.uuid4().hex[:8]}", hub.url)
        base = distribution["base_url"].rstrip("/")
        commit = hub.commit_sha(MODEL_ID, "main")
        heads = [f"{base}/{MODEL_ID}/resolve/{commit}/probe-{i}.json" for i in range(args.n)]
        trees = [f"{base}/api/models/{MODEL_ID}/tree/{commit}/d{i}" for i in range(args.n)]
        hub.reset()
        head_time, head_statuses = asyncio.run(timed_burst(heads, "HEAD"))
        tree_time, tree_statuses = asyncio.run(timed_burst(trees, "GET"))
        upstream = hub.count()
        pulp.call("DELETE", distribution["pulp_href"])
        pulp.call("DELETE", remote["pulp_href"])

    result = {
        "concurrent_requests": args.n,
        "upstream_latency_s": args.latency,
        "serial_would_take_s": round(2 * args.n * args.latency, 1),
        "resolve_head_burst_s": round(head_time, 2),
        "tree_burst_s": round(tree_time, 2),
        "statuses": sorted(set(head_statuses + tree_statuses)),
        "upstream_requests": upstream,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
