"""4. The air gap: prefetch and export on Pulp A, import on Pulp B (no remote, no hub), clients
through B get caches byte-identical to direct downloads with 0 upstream requests.

Pulp B is a second, independent Pulp (its own state dir, PostgreSQL and storage) that
`scripts/run-tests` starts for the `airgap` phase; its address comes in `PULP_HF_B_API_URL`,
`PULP_HF_B_ADMIN_PASSWORD`. A may write exports to `PULP_HF_EXPORT_DIR`, which B may import
from (`ALLOWED_EXPORT_PATHS`, `ALLOWED_IMPORT_PATHS`).
"""

import os
import time
import uuid
from types import SimpleNamespace

import pytest
import requests

from pulp_hugging_face.pytest_plugin import run_hf_client
from pulp_hugging_face.tests.functional.api.test_libraries import FROM_PRETRAINED, LOAD_DATASET
from pulp_hugging_face.tests.functional.api.test_snapshot_and_api import SNAPSHOT, tree_digest
from pulp_hugging_face.tests.functional.fake_hub import DATASET_ID, MODEL_ID

pytestmark = [pytest.mark.airgap, pytest.mark.local_pulp]

TASK_TIMEOUT = 600


class PulpApi:
    """A Pulp's REST API through requests: enough to export, import and distribute."""

    def __init__(self, url, password):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = ("admin", password)

    def call(self, method, path, **kwargs):
        url = path if path.startswith("http") else f"{self.url}{path}"
        response = self.session.request(method, url, **kwargs)
        assert response.status_code < 300, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None

    def wait(self, href):
        """Wait for a task (or every task of a task group); the finished task(s)."""
        deadline = time.monotonic() + TASK_TIMEOUT
        while time.monotonic() < deadline:
            if "/task-groups/" in href:
                # An import's first task dispatches the others before it ends (pulpcore does not
                # mark its group `all_tasks_dispatched`): all are known once all have ended and
                # the group, asked again, names no other.
                group = self.call("GET", href)
                tasks = [self.call("GET", t["pulp_href"]) for t in group["tasks"]]
                done = all(t["state"] in ("completed", "failed", "canceled") for t in tasks)
                done = done and len(self.call("GET", href)["tasks"]) == len(tasks)
            else:
                tasks = [self.call("GET", href)]
                done = tasks[0]["state"] in ("completed", "failed", "canceled")
            if done:
                failed = [t for t in tasks if t["state"] != "completed"]
                assert not failed, failed
                return tasks
            time.sleep(0.5)
        raise AssertionError(f"{href} did not finish in {TASK_TIMEOUT} s")

    def run(self, method, path, body=None):
        answer = self.call(method, path, json=body or {})
        return self.wait(answer.get("task_group") or answer["task"])


@pytest.fixture(scope="session")
def pulp_a(bindings_cfg):
    return PulpApi(bindings_cfg.host, bindings_cfg.password)


@pytest.fixture(scope="session")
def pulp_b():
    url, password = os.environ.get("PULP_HF_B_API_URL"), os.environ.get("PULP_HF_B_ADMIN_PASSWORD")
    if not (url and password and os.environ.get("PULP_HF_EXPORT_DIR")):
        pytest.fail("needs Pulp B: scripts/run-tests --only airgap")
    return PulpApi(url, password)


def hf_api(pulp, kind):
    return f"/pulp/api/v3/{kind}/hugging_face/hugging_face/"


@pytest.fixture
def exported(pulp_a, fake_hub):
    """Pulp A: a prefetch of the test model and data set, exported; (toc path, figures)."""
    fake_hub.reset(everything=True)
    name = f"airgap-{uuid.uuid4().hex[:8]}"
    remote = pulp_a.call(
        "POST", hf_api(pulp_a, "remotes"), json={"name": name, "url": fake_hub.url}
    )
    repository = pulp_a.call(
        "POST", hf_api(pulp_a, "repositories"), json={"name": name, "remote": remote["pulp_href"]}
    )
    repos = [{"repo_id": MODEL_ID}, {"repo_type": "dataset", "repo_id": DATASET_ID}]
    started = time.monotonic()
    pulp_a.run("POST", f"{repository['pulp_href']}sync/", {"repos": repos})
    prefetch_s = time.monotonic() - started
    path = os.path.join(os.environ["PULP_HF_EXPORT_DIR"], name)
    exporter = pulp_a.call(
        "POST",
        "/pulp/api/v3/exporters/core/pulp/",
        json={"name": name, "path": path, "repositories": [repository["pulp_href"]]},
    )
    started = time.monotonic()
    (task,) = pulp_a.run("POST", f"{exporter['pulp_href']}exports/")
    export_s = time.monotonic() - started
    export = pulp_a.call("GET", task["created_resources"][0])
    size = sum(os.path.getsize(p) for p in export["output_file_info"])
    yield SimpleNamespace(
        toc=export["toc_info"]["file"],
        name=name,
        prefetch_s=prefetch_s,
        export_s=export_s,
        size=size,
    )
    pulp_a.call("DELETE", exporter["pulp_href"])


def test_export_import_serves_clients_through_the_air_gap(exported, pulp_b, fake_hub, tmp_path):
    importer = pulp_b.call(
        "POST", "/pulp/api/v3/importers/core/pulp/", json={"name": exported.name}
    )
    started = time.monotonic()
    pulp_b.run(
        "POST",
        f"{importer['pulp_href']}imports/",
        {"toc": exported.toc, "create_repositories": True},
    )
    import_s = time.monotonic() - started
    print(
        f"MEASURED air gap: prefetch {exported.prefetch_s:.1f} s, export {exported.export_s:.1f} s "
        f"({exported.size / 1e6:.1f} MB), import {import_s:.1f} s"
    )
    (repository,) = pulp_b.call(
        "GET", hf_api(pulp_b, "repositories"), params={"name": exported.name}
    )["results"]
    assert repository["latest_version_href"].endswith("/versions/1/")
    b_remotes = pulp_b.call("GET", hf_api(pulp_b, "remotes"))["results"]
    assert fake_hub.url not in {remote["url"] for remote in b_remotes}
    distribution = pulp_b.run(
        "POST",
        hf_api(pulp_b, "distributions"),
        {"name": exported.name, "base_path": exported.name, "repository": repository["pulp_href"]},
    )
    distribution = pulp_b.call("GET", distribution[0]["created_resources"][0])
    assert distribution["remote"] is None
    endpoint = distribution["base_url"].rstrip("/")

    clients = {
        "snapshot": SNAPSHOT.format(repo_id=MODEL_ID, revision="main", allow=None, ignore=None),
        "from_pretrained": FROM_PRETRAINED.format(model=MODEL_ID),
        "load_dataset": LOAD_DATASET.format(dataset=DATASET_ID),
    }
    direct = {}
    for name, code in clients.items():
        home = tmp_path / f"direct-{name}"
        direct[name] = (
            run_hf_client(code, fake_hub.url, home, env={"HF_HUB_DISABLE_XET": "1"}),
            home,
        )
    fake_hub.reset()
    for name, code in clients.items():
        home = tmp_path / f"b-{name}"
        result = run_hf_client(code, endpoint, home)
        expected, direct_home = direct[name]
        assert result == expected, name
        direct_tree = tree_digest(direct_home).replace(".json xet", ".json no-xet")
        assert tree_digest(home) == direct_tree, name
    assert fake_hub.count() == 0, fake_hub.stats()["requests"]
