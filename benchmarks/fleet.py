"""A fleet: N real client processes load one model (or data set) at the same moment.

    python benchmarks/fleet.py [--clients 16,64] [--client snapshot|transformers|datasets] [--repeat N]

Each client is its own Python process with a fresh HF_HOME, running `snapshot_download`,
transformers' `from_pretrained` or datasets' `load_dataset` against one distribution: cold (a
new cache, so the whole fleet shares the first downloads) and warm (the same cache again, fresh
client caches). The same clients straight at the fake hub are the baseline, in the same run.
Every failure is reported with its cause. Writes benchmarks/results/fleet.json.

Run by the test command at 16 clients (`test_fleet.py`); the 64-client figures come from here.
"""

import argparse
import statistics
import sys
import uuid

from harness import ROOT, FakeHub, Pulp, log, python, write_result

sys.path.insert(0, str(ROOT))
from pulp_hugging_face.tests.functional.fleet import CLIENT_CODE, run_fleet


def fleet_round(hub, pulp, clients, round_, kind, client_python):
    """Baseline (straight at the fake hub), then cold and warm through a new cache."""
    log(f"{clients} clients straight at the fake hub (round {round_})")
    # Straight at the fake hub, hf_xet would talk to its (fake) CAS: without it.
    baseline = run_fleet(
        hub.url, clients, kind, client_python, extra_env={"HF_HUB_DISABLE_XET": "1"}
    )
    remote, distribution = pulp.cache(f"bench-fleet-{uuid.uuid4().hex[:8]}", hub.url)
    endpoint = distribution["base_url"].rstrip("/")
    try:
        log(f"{clients} clients, cold cache")
        cold = run_fleet(endpoint, clients, kind, client_python)
        log(f"{clients} clients, warm cache")
        hub.reset()
        warm = run_fleet(endpoint, clients, kind, client_python)
        warm["upstream_requests"] = hub.stats()["total"]
    finally:
        pulp.drop(remote, distribution)
    runs = []
    for name, run in (("baseline", baseline), ("cold", cold), ("warm", warm)):
        ratio = run["wall_s"] / baseline["wall_s"] if baseline["wall_s"] else None
        log(f"  {name}: wall {run['wall_s']:.1f} s ({ratio:.2f}x), {run['failures']} failed")
        runs.append({"client": kind, "round": round_, "phase": name, "ratio": ratio, **run})
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--client", default="snapshot", choices=sorted(CLIENT_CODE))
    parser.add_argument("--client-python", default=None, help="default: the test venv's")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of baseline, cold and warm (the wall time "
        "of 64 clients on 2 cores is mostly their own start-up, and varies from run to run)",
    )
    args = parser.parse_args()
    client_python = args.client_python or python()
    hub = FakeHub()
    pulp = Pulp(hub.url)
    runs = []
    try:
        for clients in [int(c) for c in args.clients.split(",")]:
            for round_ in range(1, args.repeat + 1):
                runs += fleet_round(hub, pulp, clients, round_, args.client, client_python)
            for phase in ("baseline", "cold", "warm"):
                ratios = [
                    r["ratio"] for r in runs if r["clients"] == clients and r["phase"] == phase
                ]
                median = statistics.median(ratios)
                log(f"{clients} clients, {phase}: median {median:.2f}x of {len(ratios)}")
        write_result(
            f"fleet-{args.client}",
            {"command": "python benchmarks/fleet.py " + " ".join(sys.argv[1:]), "runs": runs},
        )
    finally:
        pulp.stop()
        hub.stop()


if __name__ == "__main__":
    main()
