"""Restarting pulpcore-content and pulpcore-worker mid-download loses nothing complete."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID
from pulp_hugging_face.tests.functional.multihost import restart_stopped_apps

pytestmark = pytest.mark.local_pulp


def kill_process_group(state_dir, name):
    pid_file = state_dir / "run" / f"{name}.pid"
    pid = int(pid_file.read_text().split()[0])
    os.killpg(pid, signal.SIGKILL)  # a crash, not a clean shutdown


def test_restart_mid_download(hf_cache_factory, hub_reset):
    state_dir = Path(os.environ["PULP_HF_STATE_DIR"])
    cache = hf_cache_factory(max_retries=0)
    url = f"{cache.endpoint}/{MODEL_ID}/resolve/main/"
    complete = {name: requests.get(url + name).content for name in ("config.json", "big.bin")}
    assert requests.head(url + "xet/weights.bin").status_code == 200

    # The body of the next file pauses half way; kill the processes during the pause.
    hub_reset.configure(fault="slow", fault_target="cdn", latency=20, fault_count=1)
    outcome = {}

    def interrupted_download():
        try:
            outcome["body"] = requests.get(url + "xet/weights.bin", timeout=120).content
        except requests.exceptions.RequestException as exc:
            outcome["error"] = exc

    client = threading.Thread(target=interrupted_download)
    client.start()
    deadline = time.monotonic() + 30
    while not any(r["kind"] == "cdn" for r in hub_reset.stats()["requests"]):
        assert time.monotonic() < deadline, "the download never reached the CDN"
        time.sleep(0.1)
    time.sleep(1)
    for name in ("content", *(p.stem for p in (state_dir / "run").glob("worker-*.pid"))):
        kill_process_group(state_dir, name)
    client.join(60)
    expected = hub_reset.file_bytes(MODEL_ID, "xet/weights.bin")
    assert outcome.get("body") != expected  # the interrupted client did not get the file

    restart_stopped_apps(state_dir)
    hub_reset.configure(fault=None, latency=0)

    # Everything complete is served from storage, without the hub ...
    hub_reset.reset()
    for name, body in complete.items():
        assert requests.get(url + name).content == body
    assert hub_reset.count() == 0
    # ... and nothing half-done was kept: the interrupted file is fetched again, whole.
    again = requests.get(url + "xet/weights.bin")
    assert again.headers["X-Pulp-Cache"] == "miss"
    assert again.content == expected
    assert hub_reset.count("cdn") == 1
