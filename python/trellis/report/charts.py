"""Charts as static SVG: Vega-Lite specs built with Altair, rendered by vl-convert.

Each function takes aggregated rows (dicts) and returns the SVG text; nothing
here queries or draws by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import vl_convert

Rows = Sequence[dict[str, Any]]
WIDTH = 640


def _svg(chart: alt.TopLevelMixin) -> str:
    return str(vl_convert.vegalite_to_svg(chart.to_json(validate=False)))


def _data(rows: Rows) -> alt.Data:
    return alt.Data(values=[dict(row) for row in rows])


def daily_lines(rows: Rows, series: str, value: str, title: str, anomalies: bool) -> str:
    """One line a series per day; anomalous days (is_anomaly) as red points."""
    base = alt.Chart(_data(rows)).encode(
        x=alt.X("cost_date:T", title="day (UTC)"),
        y=alt.Y(f"{value}:Q", title=title),
        color=alt.Color(f"{series}:N", title=series),
    )
    line = base.mark_line(point=False)
    chart: alt.Chart | alt.LayerChart | alt.FacetChart = line
    if anomalies:
        marked = (
            base.mark_point(color="#d62728", size=80, filled=True, shape="diamond")
            .encode(
                color=alt.value("#d62728"),
                tooltip=[f"{series}:N", "cost_date:T", f"{value}:Q"],
            )
            .transform_filter("datum.is_anomaly")
        )
        chart = alt.layer(line, marked)
    return _svg(chart.properties(width=WIDTH, height=240))


def confidence_scatter(rows: Rows) -> str:
    points = (
        alt.Chart(_data(rows))
        .mark_circle(size=70, opacity=0.8)
        .encode(
            x=alt.X(
                "global_confidence_score:Q",
                title="global score of the model",
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y(
                "agent_confidence_score:Q", title="agent confidence", scale=alt.Scale(domain=[0, 1])
            ),
            color=alt.Color(
                "is_divergent:N",
                title="diverging",
                scale=alt.Scale(domain=[False, True], range=["#4c78a8", "#d62728"]),
            ),
            tooltip=["agent_id:N", "model:N", "confidence_divergence:Q"],
        )
    )
    diagonal = (
        alt.Chart(_data([{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 1.0}]))
        .mark_line(color="#999", strokeDash=[4, 4])
        .encode(x="x:Q", y="y:Q")
    )
    return _svg(alt.layer(diagonal, points).properties(width=360, height=360))


def latency_bars(rows: Rows) -> str:
    long = [
        {"agent_id": r["agent_id"], "percentile": name, "latency_ms": r[f"{name}_ms"]}
        for r in rows
        for name in ("p50", "p95", "p99")
    ]
    bars = (
        alt.Chart(_data(long))
        .mark_bar()
        .encode(
            y=alt.Y("agent_id:N", title="agent"),
            yOffset=alt.YOffset("percentile:N", sort=["p50", "p95", "p99"]),
            x=alt.X("latency_ms:Q", title="latency (ms, call-weighted mean of hourly percentiles)"),
            color=alt.Color("percentile:N", sort=["p50", "p95", "p99"]),
        )
    )
    slo_rows = [r for r in rows if r.get("slo_ms") is not None]
    layers: list[alt.Chart] = [bars]
    if slo_rows:
        layers.append(
            alt.Chart(_data(slo_rows))
            .mark_tick(color="#d62728", thickness=3, size=30)
            .encode(y="agent_id:N", x="slo_ms:Q", tooltip=["agent_id:N", "slo_ms:Q"])
        )
    return _svg(alt.layer(*layers).properties(width=WIDTH - 120))


def distribution_bars(rows: Rows, x: str, y: str, x_title: str, y_title: str) -> str:
    chart = (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            x=alt.X(f"{x}:O", title=x_title, sort=[row[x] for row in rows]),
            y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(type="symlog")),
            tooltip=[f"{x}:O", f"{y}:Q"],
        )
    )
    return _svg(chart.properties(width=300, height=200))


def cluster_projection(rows: Rows) -> str:
    chart = (
        alt.Chart(_data(rows))
        .mark_circle(size=25, opacity=0.7)
        .encode(
            x=alt.X("x:Q", title="component 1"),
            y=alt.Y("y:Q", title="component 2"),
            color=alt.Color("cluster_id:N", title="cluster", legend=alt.Legend(columns=2)),
        )
    )
    return _svg(chart.properties(width=480, height=360))


def heatmap(rows: Rows, x: str, y: str, value: str, title: str, domain: list[float]) -> str:
    base = alt.Chart(_data(rows)).encode(
        x=alt.X(f"{x}:N", title=x),
        y=alt.Y(f"{y}:N", title=y),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            f"{value}:Q", title=title, scale=alt.Scale(domain=domain, scheme="viridis")
        ),
        tooltip=[f"{x}:N", f"{y}:N", f"{value}:Q"],
    )
    labels = base.mark_text(color="white", fontWeight="bold").encode(
        text=alt.Text(f"{value}:Q", format=".2f")
    )
    return _svg(alt.layer(cells, labels).properties(width=260, height=200))


def interval_chart(rows: Rows, label: str, value: str, title: str, color: str) -> str:
    """A point at `value` and a rule from ci_low to ci_high, one row a line."""
    base = alt.Chart(_data(rows)).encode(y=alt.Y(f"{label}:N", title=None))
    rule = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title=title), x2="ci_high:Q", color=alt.Color(f"{color}:N")
    )
    point = base.mark_point(filled=True, size=80).encode(
        x=f"{value}:Q", color=alt.Color(f"{color}:N"), tooltip=[f"{label}:N", f"{value}:Q"]
    )
    layers: list[alt.Chart] = [rule, point]
    if value == "mean_difference":
        layers.insert(
            0,
            alt.Chart(_data([{"zero": 0.0}]))
            .mark_rule(color="#999", strokeDash=[4, 4])
            .encode(x="zero:Q"),
        )
    return _svg(alt.layer(*layers).properties(width=WIDTH - 200))
