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
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID, FakeHub


def create(api, auth, endpoint, body):
    url = f"{api}/pulp/api/v3/{endpoint}"
    response = requests.post(url, json=body, auth=auth)
    response.raise_for_status()
    data = response.json()
    if "task" not in data:
        return data
    while True:
        task = requests.get(api + data["task"], auth=auth).json()
        if task["state"] == "completed":
            return requests.get(api + task["created_resources"][0], auth=auth).json()
        if task["state"] in ("failed", "canceled"):
            raise RuntimeError(task)
        time.sleep(0.2)


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
        name = f"bench-{uuid.uuid4().hex[:8]}"
        remote = create(
            args.api, auth, "remotes/hugging_face/hugging_face/", {"name": name, "url": hub.url}
        )
        distribution = create(
            args.api,
            auth,
            "distributions/hugging_face/hugging_face/",
            {"name": name, "base_path": name, "remote": remote["pulp_href"]},
        )
        base = distribution["base_url"].rstrip("/")
        commit = hub.commit_sha(MODEL_ID, "main")
        heads = [f"{base}/{MODEL_ID}/resolve/{commit}/probe-{i}.json" for i in range(args.n)]
        trees = [f"{base}/api/models/{MODEL_ID}/tree/{commit}/d{i}" for i in range(args.n)]
        hub.reset()
        head_time, head_statuses = asyncio.run(timed_burst(heads, "HEAD"))
        tree_time, tree_statuses = asyncio.run(timed_burst(trees, "GET"))
        upstream = hub.count()
        requests.delete(args.api + distribution["pulp_href"], auth=auth)
        requests.delete(args.api + remote["pulp_href"], auth=auth)

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
