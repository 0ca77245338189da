"""Markdown tables of the benchmark results, for the Performance and Operating under load pages.

python benchmarks/report.py
"""

import json
import statistics

from harness import RESULTS


def load(name):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def warm_table(warm):
    runs = {(r["target"], r["kind"], r["connections"]): r for r in warm["runs"]}
    lines = [
        f"`{warm['command']}` ({warm['recorded']}, {warm['cpus']} cores"
        + (f", load average {warm['load_average']}" if "load_average" in warm else "")
        + ")",
        "",
        "| request | connections | Pulp req/s | p50 / p99 ms | nginx req/s | p99 ms | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for (target, kind, count), run in sorted(runs.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        if target != "pulp" or kind == "GET bulk":
            continue
        ref = runs[("nginx", kind, count)]
        lat, ref_lat = run["latency_ms"], ref["latency_ms"]
        lines.append(
            f"| {kind} | {count} | {run['rps']:,.0f} | {lat.get('p50', 0):.1f} / "
            f"{lat.get('p99', 0):.1f} | {ref['rps']:,.0f} | {ref_lat.get('p99', 0):.1f} | "
            f"{run['rps'] / ref['rps']:.2f} |"
        )
    lines += ["", "| bulk GET 90.9 MB | connections | Pulp MB/s | nginx MB/s | ratio |",
              "|---|---|---|---|---|"]  # fmt: skip
    for (target, kind, count), run in sorted(runs.items()):
        if target == "pulp" and kind == "GET bulk":
            ref = runs[("nginx", kind, count)]
            lines.append(
                f"| | {count} | {run['bytes_per_s'] / 1e6:,.0f} | "
                f"{ref['bytes_per_s'] / 1e6:,.0f} | {run['bytes_per_s'] / ref['bytes_per_s']:.2f} |"
            )
    rss = [p["rss_mb"]["max"] for p in warm["content_processes"].values()]
    if rss:
        lines += ["", f"Resident memory of each content process, at most: {max(rss):.0f} MB."]
    return "\n".join(lines)


def cold_table(cold):
    lines = [f"`{cold['command']}` ({cold['recorded']})", "",
             "| network | file | size | direct s | through Pulp s | ratio |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for network in ("loopback", "wan"):
        for r in cold.get(network, []):
            lines.append(
                f"| {network} | {r['file']} | {r['size'] / 1e6:,.1f} MB | {r['direct_s']:.3f} | "
                f"{r['pulp_s']:.3f} | {r['ratio']:.2f} |"
            )
    return "\n".join(lines)


def fleet_table(fleet):
    lines = [f"`{fleet['command']}` ({fleet['recorded']})", "",
             "| client | clients | round | phase | wall s | p50 s | p99 s | vs straight at the hub | failures |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in fleet["runs"]:
        lines.append(
            f"| {r['client']} | {r['clients']} | {r.get('round', 1)} | {r['phase']} | "
            f"{r['wall_s']:.1f} | {r['p50_s']:.1f} | {r['p99_s']:.1f} | {r['ratio']:.2f}x | "
            f"{r['failures']} |"
        )
    lines += ["", "| client | clients | phase | median vs straight at the hub | failures in all |",
              "|---|---|---|---|---|"]  # fmt: skip
    groups = {}
    for r in fleet["runs"]:
        groups.setdefault((r["client"], r["clients"], r["phase"]), []).append(r)
    for (client, clients, phase), runs in groups.items():
        ratio = statistics.median(r["ratio"] for r in runs)
        failures = sum(r["failures"] for r in runs)
        lines.append(f"| {client} | {clients} | {phase} | {ratio:.2f}x | {failures} |")
    return "\n".join(lines)


def soak_table(soak):
    lines = [f"`{soak['command']}` ({soak['recorded']}"
             + (f", load average {soak['load_average']}" if soak.get("load_average") else "")
             + ")", "",
             "| clients | requests | errors | cut, retried once | HEAD p99 ms | GET p99 ms | range p99 ms |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, label in (("app_1_untouched", "straight to app 1 (untouched)"),
                       ("app_2_restarted", "straight to app 2 (restarted)"),
                       ("through_the_balancer", "through the balancer")):  # fmt: skip
        if r := soak.get(key):
            lines.append(
                f"| {label} | {r['requests']:,} | {r['errors']:,} | {r['retried_once']:,} | "
                f"{r.get('HEAD_p99_ms', 0):.0f} | {r.get('GET_p99_ms', 0):.0f} | "
                f"{r.get('RANGE_p99_ms', 0):.0f} |"
            )
    lines += ["", "| huggingface_hub clients | processes | rounds | failed rounds | round p50 s | round p99 s |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for key, label in (("hub_clients_through_the_balancer", "through the balancer"),
                       ("hub_clients_straight_to_app_2", "straight to app 2")):  # fmt: skip
        if r := soak.get(key):
            lines.append(
                f"| {label} | {r['clients']} | {r['rounds']} | {r['failed_rounds']} | "
                f"{r['round_p50_s']:.2f} | {r['round_p99_s']:.2f} |"
            )
    lines += ["", "| at s | disruption | API or content app processes replaced |", "|---|---|---|"]
    for event in soak.get("events", []):
        replaced = event.get("processes_replaced")
        shown = "" if replaced is None else (", ".join(replaced) or "none")
        lines.append(f"| {event['t']:.0f} | {event['event']} | {shown} |")
    lines += ["", "| process | sampled s | RSS MB start / end / max | fds start / end / max |",
              "|---|---|---|---|"]  # fmt: skip
    for p in soak["processes"].values():
        rss, fds = p["rss_mb"], p["fds"]
        lines.append(
            f"| `{p.get('command', '')}` | {p.get('seconds', '')} | "
            f"{rss['start']:.0f} / {rss['end']:.0f} / {rss['max']:.0f} | "
            f"{fds['start']} / {fds['end']} / {fds['max']} |"
        )
    return "\n".join(lines)


def main():
    for name, table in (
        ("warm", warm_table),
        ("cold", cold_table),
        ("fleet-snapshot", fleet_table),
        ("fleet-transformers", fleet_table),
        ("fleet-datasets", fleet_table),
        ("soak", soak_table),
    ):
        if data := load(name):
            print(f"### {name}\n\n{table(data)}\n")


if __name__ == "__main__":
    main()
