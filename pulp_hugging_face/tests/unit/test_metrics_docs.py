"""The metrics reference and the Grafana dashboard say what metrics.py records."""

import json
import re
from pathlib import Path

from pulp_hugging_face.app.metrics import INSTRUMENTS

DOCS = Path(__file__).resolve().parents[3] / "docs"
METRICS_PAGE = DOCS / "admin/reference/metrics.md"
DASHBOARD = DOCS / "admin/guides/grafana-dashboard.json"
PROMETHEUS_UNIT_SUFFIX = {"By": "_bytes", "ms": "_milliseconds"}


def page_rows():
    """{instrument: (type, unit, labels)} from the page's table."""
    rows = {}
    for line in METRICS_PAGE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`hugging_face."):
            labels = set(re.findall(r"`([a-z_]+)`", cells[3]))
            rows[cells[0].strip("`")] = (cells[1], cells[2].strip("`"), labels)
    return rows


def prometheus_names(name, kind, unit):
    """The series an OpenTelemetry collector's Prometheus exporter makes of an instrument."""
    base = name.replace(".", "_")
    suffix = PROMETHEUS_UNIT_SUFFIX.get(unit, "")
    if suffix and not base.endswith(suffix):
        base += suffix
    if kind == "counter":
        return {base + "_total"}
    if kind == "histogram":
        return {base + "_bucket", base + "_sum", base + "_count"}
    return {base}


def test_metrics_page_lists_every_instrument_with_its_unit_and_labels():
    rows = page_rows()
    assert set(rows) == {name for name, *_ in INSTRUMENTS}
    for name, _kind, unit, _description, labels in INSTRUMENTS:
        _type, page_unit, page_labels = rows[name]
        assert page_unit == unit, name
        assert page_labels == set(labels), name


def test_dashboard_queries_only_series_the_instruments_make():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for expr in exprs for m in re.findall(r"\bhugging_face_[a-z_]+", expr)}
    known = set().union(*(prometheus_names(n, k, u) for n, k, u, _d, _l in INSTRUMENTS))
    assert used <= known, used - known


def test_dashboard_shows_every_instrument():
    text = DASHBOARD.read_text()
    for name, kind, unit, _description, _labels in INSTRUMENTS:
        assert any(series in text for series in prometheus_names(name, kind, unit)), name
