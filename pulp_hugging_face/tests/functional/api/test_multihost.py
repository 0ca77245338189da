"""Two content apps on one database and one storage: one cache, not two.

scripts/run-tests runs these in its `multihost` phase: the test Pulp restarted with two
pulpcore-content processes (each with its gunicorn workers) and two task workers. Clients talk
to each app directly (`endpoint_on(cache, app)`); in production a balancer would spread them.

What is measured comes from the fake hub: `bytes` per CDN request (what the cache pulled from
upstream) and the kinds of metadata requests. Every test prints a `MEASURED` line.
"""

import concurrent.futures
import hashlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import LARGE_DATASET_ID, SCALE_MODEL_ID
from pulp_hugging_face.tests.functional.fake_hub.repos import (
    LARGE_FILES_PER_GROUP,
    scale_file_name,
)
from pulp_hugging_face.tests.functional.multihost import (
    CLIENT_READ_TIMEOUT,
    StreamingGet,
    app_of_peer,
    cdn_requests_for,
    metadata_requests,
    upstream_body_bytes,
    wait_for,
)

pytestmark = [pytest.mark.multihost, pytest.mark.local_pulp]

# Allowed upstream bytes for one cold file, whatever the number of clients and apps.
BYTES_SLACK = 1.02


def resolve_url(endpoint, repo_id, filename, revision="main", repo_type="model"):
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    return f"{endpoint}/{prefix}{repo_id}/resolve/{revision}/{filename}"


def scale_file(hub, k):
    """A 16 MiB LFS file of its own for each test (so no other test warmed its artifact)."""
    name = scale_file_name(k)
    facts = hub.repo(SCALE_MODEL_ID)["files"]["A"][name]
    return name, facts


def measured(test, **numbers):
    text = ", ".join(
        f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in numbers.items()
    )
    print(f"MEASURED {test}: {text}")


def files_left_since(started):
    """Files written since `started` (time.time()) where downloads in progress live: the
    WORKING_DIRECTORY (<state>/tmp, pulpcore's downloader) and <state>/media/hf-inflight (the
    plugin's shared in-flight directory), as (path below the state dir, size)."""
    state = Path(os.environ["PULP_HF_STATE_DIR"])
    out = []
    for base in (state / "tmp", state / "media" / "hf-inflight"):
        for path in base.rglob("*") if base.is_dir() else ():
            try:
                info = path.stat()
            except OSError:  # gone meanwhile
                continue
            if path.is_file() and info.st_mtime >= started:
                out.append((str(path.relative_to(state)), info.st_size))
    return sorted(out)


def test_one_upstream_download_for_a_cold_file_across_apps(
    hf_cache_factory, hub_reset, content_apps, endpoint_on
):
    """8 clients, 4 per app, ask for the same cold 16 MiB file at once: one download."""
    cache = hf_cache_factory()
    name, facts = scale_file(hub_reset, 1)
    size, sha256 = facts["size"], facts["sha256"]
    # The CDN body lasts ~4 s, so every request arrives while the first download runs.
    hub_reset.configure(body_rate=size / 4)
    urls = [resolve_url(endpoint_on(cache, app), SCALE_MODEL_ID, name) for app in content_apps]
    clients = [urls[i % 2] for i in range(8)]
    barrier = threading.Barrier(len(clients))

    def get(url):
        barrier.wait()
        digest, received = hashlib.sha256(), 0
        with requests.get(url, stream=True, timeout=(5, 60)) as response:
            for chunk in response.iter_content(1 << 20):
                digest.update(chunk)
                received += len(chunk)
            return response.status_code, received, digest.hexdigest()

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
        results = list(pool.map(get, clients))
    elapsed = time.monotonic() - started
    hub_reset.configure(body_rate=None)

    assert results == [(200, size, sha256)] * len(clients)
    stats = hub_reset.stats()
    cdn = cdn_requests_for(stats, sha256)
    served = upstream_body_bytes(stats, sha256)
    measured(
        "cold file across apps",
        clients=len(clients),
        apps=len(content_apps),
        file_bytes=size,
        upstream_bytes=served,
        ratio=served / size,
        cdn_requests=len(cdn),
        cdn_request_bytes=[e["bytes"] for e in cdn],
        seconds=elapsed,
    )
    assert served <= BYTES_SLACK * size, (
        f"upstream served {served} bytes ({served / size:.2f}x the file) in {len(cdn)} requests"
    )


def test_one_upstream_metadata_request_per_fact_across_apps(
    hf_cache_factory, hub_reset, content_apps, endpoint_on
):
    """20 cold files, each HEADed through both apps at once: one upstream question per file
    (and one for the revision)."""
    cache = hf_cache_factory()
    paths = [f"data/train/{g:02d}/part-{g * LARGE_FILES_PER_GROUP + 7:05d}.csv" for g in range(20)]
    commit = hub_reset.commit_sha(LARGE_DATASET_ID, "main")
    # Each upstream answer takes 0.3 s: the two apps' HEADs of a file overlap.
    hub_reset.configure(latency=0.3)
    heads = [
        resolve_url(endpoint_on(cache, app), LARGE_DATASET_ID, path, repo_type="dataset")
        for path in paths
        for app in content_apps
    ]
    barrier = threading.Barrier(len(heads))

    def head(url):
        barrier.wait()
        return requests.head(url, timeout=(5, 30))

    with concurrent.futures.ThreadPoolExecutor(len(heads)) as pool:
        responses = list(pool.map(head, heads))
    hub_reset.configure(latency=0)

    assert [r.status_code for r in responses] == [200] * len(heads)
    assert {r.headers["X-Repo-Commit"] for r in responses} == {commit}
    for i in range(0, len(heads), len(content_apps)):  # every app tells the same facts
        same_file = responses[i : i + len(content_apps)]
        assert len({(r.headers["ETag"], r.headers["Content-Length"]) for r in same_file}) == 1
    counts = metadata_requests(hub_reset.stats())
    measured(
        "metadata across apps",
        files=len(paths),
        heads=len(heads),
        upstream_resolve=counts["resolve"],
        upstream_api=counts["api"],
        upstream_resolve_cache=counts["resolve-cache"],
        logical=counts["logical"],
    )
    assert counts["logical"] <= len(paths) + 1, counts


def test_leader_killed_mid_download_is_replaced(
    hf_cache_factory,
    hub_reset,
    content_apps,
    endpoint_on,
    restore_content_apps,
    hugging_face_bindings,
    pulpcore_bindings,
):
    """App 1 downloads a cold file for its clients and app 2's; app 1 crashes (SIGKILL of
    master and workers). App 2's clients still get the whole file, in time; app 1's see a cut
    connection, never wrong bytes; only the right file is stored."""
    test_started = time.time()
    cache = hf_cache_factory()
    name, facts = scale_file(hub_reset, 2)
    size, sha256 = facts["size"], facts["sha256"]
    download_seconds = 8
    hub_reset.configure(body_rate=size / download_seconds)
    app1, app2 = content_apps[0], content_apps[1]
    url1 = resolve_url(endpoint_on(cache, app1), SCALE_MODEL_ID, name)
    url2 = resolve_url(endpoint_on(cache, app2), SCALE_MODEL_ID, name)

    data = hub_reset.file_bytes(SCALE_MODEL_ID, name)
    # App 1 is asked first, so it is the one that downloads.
    on_app1 = [StreamingGet(url1, keep_body=True).start() for _ in range(2)]

    def leader_request():
        for entry in cdn_requests_for(hub_reset.stats(), sha256):
            if entry["bytes"] > 0 and not entry["done"]:
                return entry
        return None

    leader = wait_for(leader_request, 30, "app 1's download to reach the CDN")
    downloader = app_of_peer(content_apps, leader["peer"])
    assert downloader is not None, f"no content app holds the CDN connection {leader['peer']}"
    assert downloader.index == 1, f"the download runs in {downloader.name}, not in app 1"

    on_app2 = [StreamingGet(url2).start() for _ in range(2)]
    # Let app 2's clients get going (as followers, or however app 2 serves them) ...
    wait_for(lambda: all(g.size > 0 or g.done for g in on_app2), 20, "app 2's first bytes")
    time.sleep(1)
    # ... then crash app 1 while its download is well under way.
    progress = [
        e for e in cdn_requests_for(hub_reset.stats(), sha256) if e["peer"] == leader["peer"]
    ]
    before_kill = progress[-1]["bytes"] if progress else None
    killed_at = time.monotonic()
    killed = app1.kill()

    bound = 3 * download_seconds + 20
    for get in on_app2:
        assert get.join(bound), f"an app 2 client did not finish within {bound}s of the kill"
    for get in on_app1:
        assert get.join(30), "an app 1 client hangs after its content app was killed"
    hub_reset.configure(body_rate=None)

    # App 2's clients: the whole file, without a pause a client would give up on.
    for get in on_app2:
        assert get.error is None, f"app 2 client failed: {get.error!r}"
        assert (get.status, get.size, get.sha256) == (200, size, sha256)
    first_byte = max(
        (get.first_byte_after(killed_at) or get.finished) - killed_at for get in on_app2
    )
    # The takeover: the longest time app 2's clients got no byte after the kill.
    stall = max(get.longest_gap(since=killed_at) for get in on_app2)
    completion = max(get.finished for get in on_app2) - killed_at
    # App 1's clients: cut short, never a whole wrong file.
    app1_outcomes = [
        (get.status, get.size, type(get.error).__name__ if get.error else None) for get in on_app1
    ]
    for get in on_app1:
        assert data.startswith(get.body), "an app 1 client got bytes that are not the file's"
        assert get.error is not None or get.size < size or get.status != 200

    stats = hub_reset.stats()
    cdn = cdn_requests_for(stats, sha256)
    served = upstream_body_bytes(stats, sha256)
    measured(
        "leader killed",
        file_bytes=size,
        leader_bytes_at_kill=before_kill,
        killed_pids=len(killed),
        takeover_seconds=stall,
        first_byte_after_kill=first_byte,
        app2_done_after_kill=completion,
        app1_clients=app1_outcomes,
        upstream_bytes=served,
        ratio=served / size,
        cdn_requests=[(e["range"], e["bytes"]) for e in cdn],
        files_left=files_left_since(test_started),
    )
    assert stall < CLIENT_READ_TIMEOUT, f"app 2's clients waited {stall:.1f}s for bytes"

    # Stored: exactly the right bytes, once; nothing partial.
    units = hugging_face_bindings.ContentHuggingFaceApi.list(repo_id=SCALE_MODEL_ID, path=name)
    assert units.count >= 1
    assert {(u.sha256, u.size) for u in units.results} == {(sha256, size)}
    assert pulpcore_bindings.ArtifactsApi.list(sha256=sha256).count == 1
    hub_reset.reset()
    again = StreamingGet(url2).start()
    assert again.join(60)
    assert (again.status, again.size, again.sha256) == (200, size, sha256)
    assert again.response_headers.get("X-Pulp-Cache") != "miss"
    assert cdn_requests_for(hub_reset.stats(), sha256) == []


def test_ranges_served_by_a_follower_while_downloading(
    hf_cache_factory, hub_reset, content_apps, endpoint_on
):
    """While app 1 downloads a cold file, app 2 answers ranges of it (start, middle, suffix)
    with exactly those bytes."""
    cache = hf_cache_factory()
    name, facts = scale_file(hub_reset, 3)
    size, sha256 = facts["size"], facts["sha256"]
    data = hub_reset.file_bytes(SCALE_MODEL_ID, name)
    download_seconds = 8
    hub_reset.configure(body_rate=size / download_seconds)
    url1 = resolve_url(endpoint_on(cache, 1), SCALE_MODEL_ID, name)
    url2 = resolve_url(endpoint_on(cache, 2), SCALE_MODEL_ID, name)

    leader = StreamingGet(url1).start()
    wait_for(
        lambda: any(e["bytes"] > 0 for e in cdn_requests_for(hub_reset.stats(), sha256)),
        30,
        "app 1's download to reach the CDN",
    )
    middle = size // 2 - 12345
    ranges = {
        "start": ("bytes=0-65535", 0, 65536),
        "middle": (f"bytes={middle}-{middle + 65535}", middle, middle + 65536),
        "suffix": ("bytes=-65536", size - 65536, size),
    }
    gets = {
        label: StreamingGet(url2, headers={"Range": spec}, keep_body=True).start()
        for label, (spec, _, _) in ranges.items()
    }
    for label, get in gets.items():
        assert get.join(3 * download_seconds + 20), f"range {label} did not finish"
    assert leader.join(3 * download_seconds + 20)
    hub_reset.configure(body_rate=None)

    timings = {label: round(get.finished - get.started, 2) for label, get in gets.items()}
    stats = hub_reset.stats()
    served = upstream_body_bytes(stats, sha256)
    measured(
        "ranges on a follower",
        seconds_per_range=timings,
        leader_seconds=round(leader.finished - leader.started, 2),
        upstream_bytes=served,
        ratio=served / size,
        cdn_requests=[(e["range"], e["bytes"]) for e in cdn_requests_for(stats, sha256)],
    )
    assert leader.error is None and (leader.status, leader.sha256) == (200, sha256)
    for label, (_, start, stop) in ranges.items():
        get = gets[label]
        assert get.error is None, f"range {label}: {get.error!r}"
        assert get.status == 206, label
        assert get.response_headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
        assert get.body == data[start:stop], label
    # The start of the file was served while the download still ran.
    assert gets["start"].finished < leader.finished


def test_a_stalled_metadata_leader_does_not_hold_up_the_other_app(
    hf_cache_factory, hub_reset, content_apps, endpoint_on
):
    """The app asking upstream for a fact freezes (SIGSTOP) with the lease: a HEAD of the same
    file on the other app still answers within a client's 10 s, because it takes the lease over
    once the heartbeat stops."""
    cache = hf_cache_factory()
    path = f"data/train/03/part-{3 * LARGE_FILES_PER_GROUP + 11:05d}.csv"
    leader, other = content_apps[0], content_apps[1]
    leader_url = resolve_url(
        endpoint_on(cache, leader), LARGE_DATASET_ID, path, repo_type="dataset"
    )
    other_url = resolve_url(endpoint_on(cache, other), LARGE_DATASET_ID, path, repo_type="dataset")
    hub_reset.configure(latency=2)  # the leader's question is still upstream when it freezes
    first = threading.Thread(target=lambda: requests.head(leader_url, timeout=60), daemon=True)
    first.start()
    wait_for(
        lambda: any(r["file"] == path for r in hub_reset.stats()["requests"]),
        10,
        "the leader's upstream HEAD",
    )
    master = leader.master_pid()
    os.killpg(master, signal.SIGSTOP)
    try:
        hub_reset.configure(latency=0)
        started = time.monotonic()
        response = requests.head(other_url, timeout=CLIENT_READ_TIMEOUT)
        answered_after = time.monotonic() - started
    finally:
        os.killpg(master, signal.SIGCONT)
    first.join(60)
    measured("stalled metadata leader", answered_after=answered_after)
    assert response.status_code == 200
    assert response.headers["X-Repo-Commit"] == hub_reset.commit_sha(LARGE_DATASET_ID, "main")
    assert answered_after < CLIENT_READ_TIMEOUT
