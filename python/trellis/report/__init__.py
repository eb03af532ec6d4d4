"""`trellis report`: one self-contained HTML file (inline SVG charts, no script,
no network) over the warehouse's marts.

Layers: queries (SQL aggregates, one module) → sections (shape, decide what is
missing or empty) → charts (Altair specs rendered to SVG by vl-convert) → a
Jinja template with autoescape (chart SVG is the only markup let through).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from trellis.report.sections import SECTIONS, Section
from trellis.storage import Store

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("trellis.report", "."),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class ReportSummary:
    path: Path
    sections: list[Section]

    @property
    def chart_count(self) -> int:
        return sum(len(s.charts) for s in self.sections)


def render_report(store: Store, target: str) -> tuple[str, list[Section]]:
    sections = [build(store) for build in SECTIONS]
    html = _ENV.get_template("report.html.j2").render(
        target=target,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
    )
    return html, sections


def write_report(store: Store, target: str, out: Path) -> ReportSummary:
    html, sections = render_report(store, target)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return ReportSummary(out, sections)
