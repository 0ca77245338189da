"""A fleet of 16 real `huggingface_hub` processes loads one model at the same moment.

Cold (the whole fleet on an empty cache) and then warm (fresh client caches): not one client
fails, every client cache is the direct download's, and warm takes nothing from upstream.
The 64-client figures, with the same clients straight at the hub as a baseline, come from
`benchmarks/fleet.py`.
"""

import hashlib
import sys
from pathlib import Path

from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID
from pulp_hugging_face.tests.functional.fleet import run_fleet

CLIENTS = 16


def snapshot_digests(hf_home):
    """{path in the snapshot: sha256} of a client cache's one snapshot of MODEL_ID."""
    snapshots = list(
        (Path(hf_home) / "hub" / f"models--{MODEL_ID.replace('/', '--')}" / "snapshots").iterdir()
    )
    assert len(snapshots) == 1
    return {
        str(p.relative_to(snapshots[0])): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(snapshots[0].rglob("*"))
        if p.is_file()
    }


def test_sixteen_clients_at_once_cold_then_warm_all_succeed(hf_cache_factory, hub_reset, tmp_path):
    direct_home = tmp_path / "direct"
    # Straight at the fake hub, hf_xet would talk to its (fake) CAS; through Pulp it never can.
    direct = run_fleet(
        hub_reset.url,
        1,
        "snapshot",
        sys.executable,
        homes=[str(direct_home)],
        extra_env={"HF_HUB_DISABLE_XET": "1"},
    )
    assert direct["failures"] == 0, direct["failure_causes"]
    expected = snapshot_digests(direct_home)
    cache = hf_cache_factory()

    for phase in ("cold", "warm"):
        hub_reset.reset()
        homes = [str(tmp_path / f"{phase}-{k}") for k in range(CLIENTS)]
        fleet = run_fleet(cache.endpoint, CLIENTS, "snapshot", sys.executable, homes=homes)
        assert fleet["failures"] == 0, (phase, fleet["failure_causes"])
        for home in homes:
            assert snapshot_digests(home) == expected
        stats = hub_reset.stats()
        if phase == "cold":
            # The fleet shared one upstream download per file.
            cdn = [r for r in stats["requests"] if r["kind"] == "cdn"]
            assert len(cdn) == len({r["path"] for r in cdn})
        else:
            assert stats["total"] == 0
