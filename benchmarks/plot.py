"""Draw the benchmark results (benchmarks/results/*.json) as the Performance page's plots.

python benchmarks/plot.py   # writes docs/admin/reference/performance/*.png
"""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from harness import RESULTS, ROOT

OUT = ROOT / "docs" / "admin" / "reference" / "performance"


def load(name):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def warm_curves(warm):
    runs = [r for r in warm["runs"] if r["kind"] == "HEAD small"]
    fig, (rate, p99) = plt.subplots(1, 2, figsize=(10, 4))
    for target, style in (("pulp", "o-"), ("nginx", "s--")):
        points = sorted((r["connections"], r) for r in runs if r["target"] == target)
        xs = [c for c, _ in points]
        rate.plot(xs, [r["rps"] for _, r in points], style, label=target)
        p99.plot(xs, [r["latency_ms"].get("p99") for _, r in points], style, label=target)
    for ax, title, unit in ((rate, "warm HEAD rate", "requests/s"), (p99, "warm HEAD p99", "ms")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("connections")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "warm-head.png", dpi=100)


def cold_curves(cold):
    fig, ax = plt.subplots(figsize=(6, 4))
    for network, style in (("loopback", "-"), ("wan", "--")):
        rows = sorted(
            (r for r in cold.get(network, []) if r["file"].startswith("file-")),
            key=lambda r: r["size"],
        )
        if not rows:
            continue
        sizes = [r["size"] / 1e6 for r in rows]
        ax.plot(sizes, [r["direct_s"] for r in rows], "s" + style, label=f"direct, {network}")
        ax.plot(sizes, [r["pulp_s"] for r in rows], "o" + style, label=f"through Pulp, {network}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("file size (MB)")
    ax.set_ylabel("seconds to the last byte")
    ax.set_title("cold download")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "cold.png", dpi=100)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    if warm := load("warm"):
        warm_curves(warm)
    if cold := load("cold"):
        cold_curves(cold)
    print("plots in", OUT.relative_to(ROOT))


if __name__ == "__main__":
    main()
