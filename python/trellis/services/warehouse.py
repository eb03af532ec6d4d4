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

#: The schemas of the public marts (one per domain folder of models/).
MART_SCHEMAS: tuple[str, ...] = ("lineage", "agents", "costs", "evaluation", "datasets")
#: Marts every built warehouse has, reported as "not built" when missing.
MARTS: tuple[tuple[str, str], ...] = (
    ("lineage", "conversation_branch_nodes"),
    ("lineage", "conversation_sessions"),
    ("lineage", "response_branch_records"),
    ("lineage", "trajectory_units"),
    ("lineage", "execution_run_records"),
    ("agents", "agent_request_log"),
    ("agents", "agent_model_daily_outcomes"),
    ("agents", "agent_confidence_scores"),
    ("agents", "global_confidence_scores"),
    ("agents", "confidence_divergence"),
    ("agents", "agent_routing_rules"),
    ("agents", "agent_latency_slo"),
    ("costs", "daily_agent_costs"),
    ("costs", "daily_tenant_costs"),
    ("costs", "cost_anomalies"),
)
#: Marts that stay empty until people act, and what fills them.
FILLED_BY: dict[str, str] = {
    "evaluation.human_eval_labels": "human reviews (trellis review import)",
    "evaluation.preference_labels": "human reviews (trellis review import)",
    "datasets.dataset_snapshot_registry": "a freeze (trellis freeze DATASET)",
}


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
    """Rows per public mart: the known ones (None when not built), then any other table of
    a mart schema (marts added later)."""
    existing = {
        (str(r[0]), str(r[1]))
        for r in store.query(
            "select table_schema, table_name from information_schema.tables"
            f" where table_schema in ({', '.join('?' for _ in MART_SCHEMAS)})",
            list(MART_SCHEMAS),
        )
    }
    counts: list[tuple[str, int | None]] = []
    for schema, table in [*MARTS, *sorted(existing - set(MARTS))]:
        if (schema, table) not in existing:
            counts.append((f"{schema}.{table}", None))
            continue
        # Identifiers come from MARTS or the catalog, never from input.
        rows = store.query(f'select count(*) from {schema}."{table}"')[0][0]
        counts.append((f"{schema}.{table}", int(rows)))
    return counts


def highlights(store: Store) -> list[str]:
    """One readable line each for the largest confidence divergence and cost anomaly."""
    lines: list[str] = []
    names = {name for name, rows in mart_row_counts(store) if rows}
    if "agents.confidence_divergence" in names:
        agent, model, day, divergence = store.query(
            "select agent_id, model, score_date, confidence_divergence"
            " from agents.confidence_divergence"
            " order by abs(confidence_divergence) desc, agent_id, model, score_date limit 1"
        )[0]
        lines.append(
            f"Largest confidence divergence: agent {agent} on {model}, {day}: "
            f"{float(divergence):+.2f} against the model's global score"
        )
    if "costs.cost_anomalies" in names:
        agent, day, cost, mean = store.query(
            "select agent_id, cost_date, cost_usd, baseline_mean_usd from costs.cost_anomalies"
            " order by excess_over_mean_usd desc, agent_id, cost_date limit 1"
        )[0]
        lines.append(
            f"Largest cost anomaly: agent {agent} on {day}: ${float(cost):,.2f} "
            f"against a baseline of ${float(mean):,.2f} a day"
        )
    return lines
