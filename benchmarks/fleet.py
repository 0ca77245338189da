"""A fleet: N real client processes load one model (or data set) at the same moment.

    python benchmarks/fleet.py [--clients 16,64] [--client snapshot|transformers|datasets]

Each client is its own Python process with a fresh HF_HOME, running `snapshot_download`,
transformers' `from_pretrained` or datasets' `load_dataset` against one distribution: cold (a
new cache, so the whole fleet shares the first downloads) and warm (the same cache again, fresh
client caches). The same clients straight at the fake hub are the baseline, in the same run.
Every failure is reported with its cause. Writes benchmarks/results/fleet.json.

Run by the test command at 16 clients (`test_fleet.py`); the 64-client figures come from here.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

from harness import MODEL_ID, FakeHub, Pulp, log, python, write_result

DATASET_ID = "fake-org/tiny-dataset"

CLIENT_CODE = {
    "snapshot": f"""
        from huggingface_hub import snapshot_download
        snapshot_download({MODEL_ID!r})
    """,
    "transformers": f"""
        from transformers import AutoConfig, AutoTokenizer
        AutoConfig.from_pretrained({MODEL_ID!r})
        AutoTokenizer.from_pretrained({MODEL_ID!r})
    """,
    "datasets": f"""
        from datasets import load_dataset
        load_dataset({DATASET_ID!r})
    """,
}

RUNNER = """
import json, sys, time, traceback
start_at = float(sys.argv[1])
time.sleep(max(0.0, start_at - time.time()))
started = time.time()
try:
{body}
    result = {{"ok": True}}
except BaseException as exc:
    cause = exc
    while cause.__cause__ or cause.__context__:
        cause = cause.__cause__ or cause.__context__
    result = {{"ok": False, "error": f"{{type(exc).__name__}}: {{exc}}"[:500],
              "cause": f"{{type(cause).__name__}}: {{cause}}"[:300]}}
result["seconds"] = time.time() - started
print(json.dumps(result))
"""


def run_fleet(endpoint, clients, kind, client_python, timeout=600):
    """Start `clients` processes that all begin at the same moment; their results."""
    code = RUNNER.format(body=textwrap.indent(textwrap.dedent(CLIENT_CODE[kind]), "    "))
    homes = [tempfile.mkdtemp(prefix="fleet-home-") for _ in range(clients)]
    start_at = time.time() + 3 + clients * 0.05  # after every interpreter has started
    processes = []
    for home in homes:
        env = {
            **os.environ,
            "HF_ENDPOINT": endpoint,
            "HF_HOME": home,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "NO_PROXY": "*",
        }
        env.pop("HF_TOKEN", None)
        processes.append(
            subprocess.Popen(
                [client_python, "-c", code, str(start_at)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=timeout)
            line = out.strip().splitlines()[-1] if out.strip() else ""
            results.append(json.loads(line) if line else {"ok": False, "error": err[-500:]})
        except subprocess.TimeoutExpired:
            process.kill()
            results.append({"ok": False, "error": f"no result within {timeout} s"})
    wall = max((r.get("seconds", 0) for r in results), default=0)
    seconds = sorted(r["seconds"] for r in results if "seconds" in r)
    failures = [r for r in results if not r["ok"]]
    return {
        "clients": clients,
        "wall_s": wall,
        "p50_s": statistics.median(seconds) if seconds else None,
        "p99_s": seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))] if seconds else None,
        "failures": len(failures),
        "failure_causes": sorted({f.get("cause") or f.get("error", "") for f in failures}),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--client", default="snapshot", choices=sorted(CLIENT_CODE))
    parser.add_argument("--client-python", default=None, help="default: the test venv's")
    args = parser.parse_args()
    client_python = args.client_python or python()
    hub = FakeHub()
    pulp = Pulp(hub.url)
    runs = []
    try:
        for clients in [int(c) for c in args.clients.split(",")]:
            log(f"{clients} clients straight at the fake hub")
            baseline = run_fleet(hub.url, clients, args.client, client_python)
            remote, distribution = pulp.cache(f"bench-fleet-{uuid.uuid4().hex[:8]}", hub.url)
            endpoint = distribution["base_url"].rstrip("/")
            try:
                log(f"{clients} clients, cold cache")
                cold = run_fleet(endpoint, clients, args.client, client_python)
                log(f"{clients} clients, warm cache")
                hub.reset()
                warm = run_fleet(endpoint, clients, args.client, client_python)
                warm["upstream_requests"] = hub.stats()["total"]
            finally:
                pulp.drop(remote, distribution)
            for name, run in (("baseline", baseline), ("cold", cold), ("warm", warm)):
                ratio = run["wall_s"] / baseline["wall_s"] if baseline["wall_s"] else None
                log(
                    f"  {name}: wall {run['wall_s']:.1f} s ({ratio:.2f}x), {run['failures']} failed"
                )
                runs.append({"client": args.client, "phase": name, "ratio": ratio, **run})
        write_result(
            f"fleet-{args.client}",
            {"command": "python benchmarks/fleet.py " + " ".join(sys.argv[1:]), "runs": runs},
        )
    finally:
        pulp.stop()
        hub.stop()


if __name__ == "__main__":
    main()
