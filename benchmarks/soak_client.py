"""One huggingface_hub client of the soak: downloads in a loop, each into a new HF_HOME.

    python benchmarks/soak_client.py ENDPOINT SECONDS OUT.jsonl

Each round: `hf_hub_download` of a small file and of a 6 MB file, then a `snapshot_download` of
the JSON and text files; one line per round in OUT.jsonl with its time and, if it failed, the
error. Its HF_ENDPOINT is ENDPOINT (a content app, or the balancer in front of them).
"""

import json
import os
import sys
import tempfile
import time
import traceback

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def one_round():
    with tempfile.TemporaryDirectory(prefix="soak-hf-") as home:
        from huggingface_hub import hf_hub_download, snapshot_download

        hf_hub_download(MODEL_ID, "config.json", cache_dir=home)
        hf_hub_download(MODEL_ID, "big.bin", cache_dir=home)
        snapshot_download(MODEL_ID, allow_patterns=["*.json", "*.txt"], cache_dir=home)


def main():
    endpoint, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    os.environ["HF_ENDPOINT"] = endpoint
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    deadline = time.monotonic() + seconds
    with open(out, "a") as results:
        while time.monotonic() < deadline:
            started = time.monotonic()
            error = None
            try:
                one_round()
            except Exception as exc:  # noqa: BLE001 - every failure is a result
                error = f"{type(exc).__name__}: {exc}"[:300]
                traceback.print_exc()
            line = {"t": time.time(), "seconds": round(time.monotonic() - started, 3)}
            results.write(json.dumps({**line, "error": error}) + "\n")
            results.flush()
            time.sleep(0.5)


if __name__ == "__main__":
    main()
