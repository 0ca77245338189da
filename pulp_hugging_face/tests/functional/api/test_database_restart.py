"""PostgreSQL restarts under traffic: the content app keeps serving and recovers by itself.

Warm answers come from the content process's memory, so they go on through the restart; once
the database is back, the process listens for changes again and stores new files, without being
restarted. pulpcore's heartbeats of the API and the content apps, which exit their process when
a write fails twice, wait for the database instead (the engine pulp_hugging_face.app.postgresql).
"""

import os
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

import pulp_hugging_face
from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID
from pulp_hugging_face.tests.functional.multihost import (
    ContentApp,
    content_apps_from_env,
    wait_for,
)

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


def restart_postgres(down=0):
    """`scripts/local-pulp restart-postgres`: PostgreSQL stopped (sessions cut) for `down` s."""
    done = subprocess.run(
        [
            str(REPO_ROOT / "scripts" / "local-pulp"),
            "restart-postgres",
            "--down",
            str(down),
            "--state-dir",
            os.environ["PULP_HF_STATE_DIR"],
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def content_heartbeats_since(bindings_cfg, moment):
    """The pids of the content processes whose last heartbeat is `moment` or later."""
    status = requests.get(f"{bindings_cfg.host}/pulp/api/v3/status/", timeout=10).json()
    return {
        int(app["name"].split("@")[0])
        for app in status["online_content_apps"]
        if datetime.fromisoformat(app["last_heartbeat"]) >= moment
    }


def serving_processes():
    """The pids of the API and of every content app (gunicorn masters and workers)."""
    api = ContentApp(0, "", Path(os.environ["PULP_HF_STATE_DIR"]) / "run" / "api.pid")
    return {app.name: app.pids() for app in [api, *content_apps_from_env()]}


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


def test_an_outage_that_spans_heartbeats_stops_no_api_or_content_app(
    hf_cache_factory, bindings_cfg, hub_reset
):
    # pulpcore's content app writes a heartbeat every CONTENT_APP_TTL / 4 = 7 s and exits when
    # the write fails on its connection and again on a new one; 9 s down is sure to span one.
    cache = hf_cache_factory()
    warm_url = f"{cache.endpoint}/{MODEL_ID}/resolve/main/config.json"
    assert requests.get(warm_url).status_code == 200
    before = serving_processes()
    assert all(before.values()), before
    with Traffic([warm_url]) as traffic:
        output = restart_postgres(down=9)
        back = datetime.now(UTC)
        time.sleep(1)
    assert "exited during the outage" not in output, output
    assert serving_processes() == before  # the same processes: none exited, none was restarted
    assert {status for _, _, status in traffic.outcomes} == {200}

    # ... and each content process writes its heartbeat again.
    workers = {
        pid for app in content_apps_from_env() for pid in app.pids() if pid != app.master_pid()
    }
    assert workers
    wait_for(
        lambda: workers <= content_heartbeats_since(bindings_cfg, back),
        timeout=15,
        what="a heartbeat of every content process after the restart",
        interval=0.5,
    )

    cold_url = f"{cache.endpoint}/{MODEL_ID}/resolve/main/vocab.txt"
    response = requests.get(cold_url, timeout=30)
    assert response.status_code == 200
    assert response.content == hub_reset.file_bytes(MODEL_ID, "vocab.txt")
