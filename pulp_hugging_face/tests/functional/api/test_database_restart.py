"""PostgreSQL restarts under traffic: the content app keeps serving and recovers by itself.

Warm answers come from the content process's memory, so they go on through the restart; once
the database is back, the process listens for changes again and stores new files, without being
restarted.
"""

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

import pulp_hugging_face
from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID

REPO_ROOT = Path(pulp_hugging_face.__file__).resolve().parents[1]
pytestmark = pytest.mark.local_pulp


class Traffic:
    """Warm HEADs and GETs in a loop, on pooled connections, until stopped."""

    def __init__(self, urls):
        self.urls, self.outcomes = urls, []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        session = requests.Session()
        session.trust_env = False
        while not self.stopped.is_set():
            for url in self.urls:
                for method in ("HEAD", "GET"):
                    try:
                        status = session.request(method, url, timeout=10).status_code
                    except requests.RequestException as exc:
                        status = type(exc).__name__
                    self.outcomes.append((time.monotonic(), method, status))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(30)


def after_a_content_app_heartbeat(bindings_cfg, timeout=30):
    """Return just after every content app wrote its heartbeat.

    pulpcore's content app writes a heartbeat every CONTENT_APP_TTL / 4 seconds (7 s) and exits
    when that write fails twice in a row, leaving its restart to a supervisor (systemd). A
    restart right after a heartbeat is over before the next one: what is tested here is the
    plugin's part, the requests.
    """

    def heartbeats():
        status = requests.get(f"{bindings_cfg.host}/pulp/api/v3/status/", timeout=10).json()
        return {app["name"]: app["last_heartbeat"] for app in status["online_content_apps"]}

    before = heartbeats()
    deadline = time.monotonic() + timeout
    while True:
        now = heartbeats()
        if now.keys() == before.keys() and all(now[k] != before[k] for k in now):
            return
        assert time.monotonic() < deadline, "no content app heartbeat"
        time.sleep(0.1)


def restart_postgres():
    done = subprocess.run(
        [
            str(REPO_ROOT / "scripts" / "local-pulp"),
            "restart-postgres",
            "--state-dir",
            os.environ["PULP_HF_STATE_DIR"],
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_warm_files_are_served_through_a_database_restart(
    hf_cache_factory, bindings_cfg, hub_reset
):
    cache = hf_cache_factory()
    urls = [
        f"{cache.endpoint}/{MODEL_ID}/resolve/main/{name}" for name in ("config.json", "vocab.txt")
    ]
    for url in urls * 2:
        assert requests.get(url).status_code == 200
    with Traffic(urls) as traffic:
        after_a_content_app_heartbeat(bindings_cfg)
        restarted_at = time.monotonic()
        restart_postgres()
        time.sleep(2)
    during = [o for o in traffic.outcomes if o[0] >= restarted_at]
    assert during, "no request was made during the restart"
    assert {status for _, _, status in traffic.outcomes} == {200}


def test_the_content_app_stores_and_follows_changes_after_a_database_restart(
    hf_cache_factory, hf_token_guard_factory, hugging_face_bindings, bindings_cfg, hub_reset
):
    cache = hf_cache_factory()
    warm_url = f"{cache.endpoint}/{MODEL_ID}/resolve/main/config.json"
    for _ in range(3):
        assert requests.get(warm_url).status_code == 200
    after_a_content_app_heartbeat(bindings_cfg)
    restart_postgres()

    # A cold file needs the database (facts, lease, artifact): it works again within seconds.
    cold_url = f"{cache.endpoint}/{MODEL_ID}/resolve/main/big.bin"
    deadline = time.monotonic() + 20
    while (response := requests.get(cold_url)).status_code != 200:
        assert response.status_code == 503, response.text  # never a 500 meanwhile
        assert time.monotonic() < deadline, "no recovery within 20 s"
        time.sleep(0.5)
    assert response.content == hub_reset.file_bytes(MODEL_ID, "big.bin")

    # And a change made now reaches the process's memory: it listens again.
    guard = hf_token_guard_factory(["hf_after_restart_token"])
    hugging_face_bindings.DistributionsHuggingFaceApi.partial_update(
        cache.distribution.pulp_href, {"content_guard": guard.pulp_href}
    )
    assert requests.head(warm_url).status_code == 401
