"""A fleet of real client processes that start at the same moment (tests and benchmarks).

`run_fleet(endpoint, clients, kind, python)` starts `clients` Python processes, each with a
fresh HF_HOME, that all begin `snapshot_download`, transformers' `from_pretrained` or datasets'
`load_dataset` at one instant, and reports wall time, per-client p50/p99 and every failure with
its root cause.
"""

import json
import os
import statistics
import subprocess
import tempfile
import textwrap
import time

from pulp_hugging_face.tests.functional.fake_hub import DATASET_ID, MODEL_ID

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


def run_fleet(endpoint, clients, kind, client_python, timeout=600, homes=None, extra_env=None):
    """Start `clients` processes that all begin at the same moment; their results.

    `homes`: the HF_HOME of each client (default: temporary directories, removed after);
    `extra_env`: more environment variables for every client."""
    code = RUNNER.format(body=textwrap.indent(textwrap.dedent(CLIENT_CODE[kind]), "    "))
    if homes is None:  # removed at the end: 64 clients' caches of a model take gigabytes
        with tempfile.TemporaryDirectory(prefix="fleet-homes-") as parent:
            homes = [os.path.join(parent, str(k)) for k in range(clients)]
            return run_fleet(endpoint, clients, kind, client_python, timeout, homes, extra_env)
    start_at = time.time() + 3 + clients * 0.05  # after every interpreter has started
    processes = []
    for home in homes:
        client_env = {
            **os.environ,
            "HF_ENDPOINT": endpoint,
            "HF_HOME": home,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "NO_PROXY": "*",
            **(extra_env or {}),
        }
        client_env.pop("HF_TOKEN", None)
        processes.append(
            subprocess.Popen(
                [client_python, "-c", code, str(start_at)],
                env=client_env,
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
