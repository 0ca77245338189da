"""Cold downloads: time to the last byte through a Pulp that has nothing yet, against the same
client downloading straight from the fake hub, on loopback and behind an emulated WAN.

    python benchmarks/cold.py [--sizes 1000000,100000000,1000000000] [--repeat 3]
                              [--wan-delay-ms 20 --wan-rate-mbit 1000]

Each measurement uses a new remote and distribution (a cache with nothing in it), and drops
them with an orphan cleanup afterwards, so the next one is cold too. The client is curl, which
follows the hub's redirect to its CDN. The WAN is `wan.py`, a TCP proxy in front of the hub
and its CDN (20 ms each way = 40 ms RTT, 1 Gbit/s per direction): Pulp's remote and the direct
client both go through it. Writes benchmarks/results/cold.json.
"""

import argparse
import statistics
import subprocess
import uuid

from harness import (
    BULK_FILE,
    MODEL_ID,
    SIZES_ID,
    FakeHub,
    Pulp,
    WanProxy,
    log,
    sized_files,
    write_result,
)


def fetch(url):
    """Seconds to the last byte, and the bytes' sha256, as curl sees them."""
    out = subprocess.run(
        [
            "curl",
            "-sfL",
            "--noproxy",
            "*",
            "-o",
            "/dev/null",
            "-w",
            "%{time_total} %{size_download}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), int(out[1])


def measure(pulp, hub, repo_id, path, repeat):
    direct, through = [], []
    for _ in range(repeat):
        seconds, size = fetch(f"{hub.url}/{repo_id}/resolve/main/{path}")
        direct.append(seconds)
        name = f"bench-cold-{uuid.uuid4().hex[:8]}"
        remote, distribution = pulp.cache(name, hub.url)
        try:
            seconds, pulp_size = fetch(
                f"{distribution['base_url'].rstrip('/')}/{repo_id}/resolve/main/{path}"
            )
            if pulp_size != size:
                raise RuntimeError(f"{path}: {pulp_size} bytes through Pulp, {size} direct")
            through.append(seconds)
        finally:
            pulp.drop(remote, distribution)
    result = {
        "file": path,
        "size": size,
        "direct_s": statistics.median(direct),
        "pulp_s": statistics.median(through),
        "direct_all": direct,
        "pulp_all": through,
    }
    result["ratio"] = result["pulp_s"] / result["direct_s"]
    log(
        f"{path}: {size / 1e6:.1f} MB direct {result['direct_s']:.3f} s, Pulp {result['pulp_s']:.3f} s, {result['ratio']:.2f}x"
    )
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,100000000,1000000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--wan-delay-ms", type=float, default=20.0)
    parser.add_argument("--wan-rate-mbit", type=float, default=1000.0)
    parser.add_argument("--no-wan", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    directory, names = sized_files(sizes)
    files_repos = [(SIZES_ID, directory)]

    results = {"command": "python benchmarks/cold.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v not in (False, None)
    ).replace(" True", ""), "loopback": [], "wan": []}  # fmt: skip
    hub = FakeHub(files_repos)
    pulp = Pulp(hub.url)
    try:
        log("loopback")
        results["loopback"].append(measure(pulp, hub, MODEL_ID, BULK_FILE, args.repeat))
        for size in sizes:
            results["loopback"].append(measure(pulp, hub, SIZES_ID, names[size], args.repeat))
        hub.stop()
        if not args.no_wan:
            log(f"WAN: {args.wan_delay_ms} ms each way, {args.wan_rate_mbit} Mbit/s")
            hub = FakeHub(files_repos, public=True, name="wan-hub")
            proxies = [
                WanProxy(
                    hub.public_port, hub.port, args.wan_delay_ms, args.wan_rate_mbit, "wan-hub"
                ),
                WanProxy(
                    hub.public_cdn_port,
                    hub.cdn_port,
                    args.wan_delay_ms,
                    args.wan_rate_mbit,
                    "wan-cdn",
                ),
            ]
            try:
                results["wan"].append(measure(pulp, hub, MODEL_ID, BULK_FILE, args.repeat))
                for size in sizes:
                    results["wan"].append(measure(pulp, hub, SIZES_ID, names[size], args.repeat))
            finally:
                for proxy in proxies:
                    proxy.stop()
        results["wan_link"] = {
            "delay_ms_each_way": args.wan_delay_ms,
            "rate_mbit": args.wan_rate_mbit,
        }
        write_result("cold", results)
    finally:
        pulp.stop()
        hub.stop()


if __name__ == "__main__":
    main()
