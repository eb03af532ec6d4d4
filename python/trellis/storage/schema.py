"""DDL of the raw tables: the only tables trellis writes; dbt reads them as sources.

The statements come from the dbt macro file macros/raw_tables_ddl.sql,
rendered here with plain Jinja: dbt runs the very same DDL before every
command (on-run-start, macros/create_raw_tables.sql), so either side can
create the raw tables and they never drift apart. Only the JSON column type
differs between the targets. On DuckDB the JSON records are zstd-compressed:
DuckDB picks zstd by itself only for strings of 4 KB or more on average.
"""

from __future__ import annotations

import functools

import jinja2

from trellis.config import PROJECT_DIR, RAW_SCHEMA, TargetName

_JSON_TYPE: dict[TargetName, str] = {
    "duckdb": "json using compression zstd",
    "postgres": "jsonb",
}
DDL_MACRO_FILE = PROJECT_DIR / "macros" / "raw_tables_ddl.sql"


@functools.cache
def raw_ddl(target: TargetName) -> list[str]:
    """Statements that create the raw schema and tables (idempotent)."""
    template = jinja2.Environment(autoescape=False).from_string(
        DDL_MACRO_FILE.read_text(encoding="utf-8")
    )
    sql = str(template.module.raw_tables_ddl(RAW_SCHEMA, _JSON_TYPE[target]))  # type: ignore[attr-defined]
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]
