"""Run the dbt project the way a user does, and read what it built.

trellis never re-implements a model: building is `dbt build` on the same
project and profile a user runs by hand, with the same settings
(trellis.config), so `trellis` and `dbt` always meet in one database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trellis.config import PROJECT_DIR, TargetName
from trellis.errors import TrellisError
from trellis.storage import Store

#: The public marts a summary reports, by schema.
MARTS: tuple[tuple[str, str], ...] = (
    ("lineage", "conversation_branch_nodes"),
    ("lineage", "conversation_sessions"),
    ("lineage", "response_branch_records"),
    ("lineage", "trajectory_units"),
    ("lineage", "execution_run_records"),
    ("agents", "agent_request_log"),
    ("agents", "agent_confidence_scores"),
    ("agents", "agent_routing_rules"),
    ("costs", "daily_agent_costs"),
    ("costs", "cost_anomalies"),
)


@dataclass(frozen=True)
class DbtResult:
    returncode: int
    output: str


def dbt_executable() -> str:
    """The dbt next to this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise TrellisError("dbt is not installed in this environment: run `make install`")
    return found


def run_dbt(args: Sequence[str], target: TargetName, echo: bool = True) -> DbtResult:
    """Run `dbt ARGS --target TARGET` in the project; raise TrellisError on failure."""
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [dbt_executable(), *args, "--target", target, "--project-dir", str(PROJECT_DIR)]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if echo:
            sys.stdout.write(line)
    returncode = process.wait()
    output = "".join(lines)
    if returncode != 0:
        raise TrellisError(f"dbt {' '.join(args)} failed (exit {returncode}); see its output above")
    return DbtResult(returncode, output)


def mart_row_counts(store: Store) -> list[tuple[str, int | None]]:
    """Rows per public mart; None for a mart this warehouse has not built."""
    counts: list[tuple[str, int | None]] = []
    for schema, table in MARTS:
        exists = store.query(
            "select count(*) from information_schema.tables"
            " where table_schema = ? and table_name = ?",
            [schema, table],
        )[0][0]
        if not exists:
            counts.append((f"{schema}.{table}", None))
            continue
        # Identifiers come from MARTS above, never from input.
        rows = store.query(f"select count(*) from {schema}.{table}")[0][0]
        counts.append((f"{schema}.{table}", int(rows)))
    return counts
