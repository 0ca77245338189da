"""Restarting pulpcore-content and pulpcore-worker mid-download loses nothing complete."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID
from pulp_hugging_face.tests.functional.multihost import (
    content_apps_from_env,
    restart_stopped_apps,
    wait_for,
)

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


def test_download_files_left_by_a_stopped_content_app_are_removed():
    """A leader killed with no follower leaves its half-written file in the in-flight directory:
    content processes remove such files (untouched for `pullthrough.LEFTOVER_AGE`, 15 min, and
    named by no live lease) when they start, and every 10 min after."""
    inflight = Path(os.environ["PULP_HF_STATE_DIR"]) / "media" / "hf-inflight"
    inflight.mkdir(parents=True, exist_ok=True)
    leftover = inflight / f"{'0' * 32}-host-1-dead-00000000.part"
    leftover.write_bytes(b"half a file")
    long_ago = time.time() - 2 * 3600
    os.utime(leftover, (long_ago, long_ago))
    being_written = inflight / f"{'1' * 32}-host-2-live-00000000.part"
    being_written.write_bytes(b"the first bytes")

    app = content_apps_from_env()[0]
    os.kill(app.master_pid(), signal.SIGHUP)  # gunicorn starts new workers, which look at start
    wait_for(lambda: not leftover.exists(), 60, "the leftover file to be removed")
    wait_for(app.answers, 60, "the content app to answer")
    assert being_written.exists()
    being_written.unlink()
