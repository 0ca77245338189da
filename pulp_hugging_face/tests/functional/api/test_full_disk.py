"""A full disk: a cold file that cannot be stored gets a clear 507; nothing else suffers.

The test mounts a small tmpfs where the content app writes downloads (`MEDIA_ROOT/hf-inflight`,
beside the artifacts), fills it, and unmounts it at the end. It needs root (CI runs as root).
"""

import os
import subprocess
from pathlib import Path

import pytest
import requests
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID, SCALE_MODEL_ID
from pulp_hugging_face.tests.functional.fake_hub.repos import SCALE_FILE_SIZE, scale_file_name

pytestmark = pytest.mark.local_pulp

TMPFS_SIZE = SCALE_FILE_SIZE + 8 * 1024 * 1024
FILLER = SCALE_FILE_SIZE  # leaves 8 MiB: less than the cold file needs


@pytest.fixture
def full_disk():
    """The download directory on a small filesystem, filled up; `free()` makes room again."""
    inflight = Path(os.environ["PULP_HF_STATE_DIR"]) / "media" / "hf-inflight"
    inflight.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(inflight)], check=True
    )
    filler = inflight / "filler"
    try:
        with open(filler, "wb") as f:
            f.write(b"\0" * FILLER)
        yield type("FullDisk", (), {"path": inflight, "free": lambda self: filler.unlink()})()
    finally:
        subprocess.run(["umount", "-l", str(inflight)], check=True)


def test_a_cold_file_that_cannot_be_stored_gets_507_and_warm_files_are_served(
    hf_cache_factory, hugging_face_bindings, hub_reset, full_disk, tmp_path
):
    cache = hf_cache_factory()
    warm_url = f"{cache.endpoint}/{MODEL_ID}/resolve/main/config.json"
    assert requests.get(warm_url).status_code == 200
    name = scale_file_name(3)
    cold_url = f"{cache.endpoint}/{SCALE_MODEL_ID}/resolve/main/{name}"
    units_before = stored_units(hugging_face_bindings, name)
    hub_reset.reset()

    response = requests.get(cold_url)
    assert response.status_code == 507
    assert "no room" in response.headers["X-Error-Message"]
    assert response.json()["error"] == response.headers["X-Error-Message"]
    assert hub_reset.count("cdn") == 0  # nothing was downloaded only to be thrown away
    with pytest.raises(HfHubHTTPError) as raised:
        hf_hub_download(
            SCALE_MODEL_ID, name, endpoint=cache.endpoint, cache_dir=tmp_path / "client"
        )
    assert raised.value.response.status_code == 507

    assert requests.get(warm_url).status_code == 200  # what is cached is still served
    assert sorted(p.name for p in full_disk.path.iterdir()) == ["filler"]  # nothing partial
    assert stored_units(hugging_face_bindings, name) == units_before  # no unit was made

    full_disk.free()
    body = requests.get(cold_url).content
    assert body == hub_reset.file_bytes(SCALE_MODEL_ID, name)
    assert requests.head(cold_url).headers["X-Pulp-Cache"] == "hit"


def stored_units(bindings, name):
    """The units stored for this file, by any remote (the same bytes are stored once)."""
    units = bindings.ContentHuggingFaceApi.list(repo_id=SCALE_MODEL_ID, path=name).results
    return sorted(u.pulp_href for u in units)
