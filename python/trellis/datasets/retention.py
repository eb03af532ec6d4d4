"""Retention and erasure of raw facts, and what they mean for frozen snapshots.

- ``purge``: each tenant's ``retention_days`` (seed tenant_data_policies) is
  the age past which its requests and their feedback are deleted. A tenant
  without a row, and quarantined lines (whose tenant is unknown: they failed
  validation), are kept for the dbt var ``retention_unlisted_days``: nothing
  is kept forever by omission. ``dry_run`` counts and deletes nothing.
- ``erase``: a tenant's raw facts, or one request and its descendants in the
  conversation tree (later turns carry the erased turn's messages in their
  context), with their feedback and quarantined lines.

Raw facts are the truth everything else is built from; incremental models
keep what they built until a full refresh, so a deletion is followed by
``dbt build --full-refresh`` of everything downstream of the raw facts
(``rebuild_command``; the CLI runs it unless told not to), and the singular
dbt test assert_lineage_rows_have_raw_facts fails while a derived row
outlives its raw fact. Every purge and erasure is recorded in
raw.erasure_requests; frozen snapshots are immutable, so for each one that
holds examples of the erased facts a row in raw.dataset_snapshot_erasures
says so (the registry model shows it), and a new snapshot without them can be
frozen after the rebuild.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from trellis.config import PROJECT_DIR, RAW_SCHEMA, TargetName, duckdb_settings
from trellis.errors import TrellisError
from trellis.storage import Store, open_store

POLICIES_FILE = PROJECT_DIR / "seeds" / "tenant_data_policies.csv"
UNLISTED_VAR = "retention_unlisted_days"

#: What a deletion rebuilds: every model downstream of the raw facts, from
#: scratch (incremental ones included), with the seeds they read.
REBUILD_ARGS = (
    "build",
    "--full-refresh",
    "--select",
    "source:gateway+",
    "resource_type:seed",
)


@dataclass(frozen=True)
class Policy:
    tenant_id: str
    retention_days: int
    policy_version: str


@dataclass
class Removal:
    """What one purge or erasure removed (or, dry, would remove)."""

    erasure_id: str
    kind: str
    dry_run: bool
    requests: dict[str, int] = field(default_factory=dict)  # by tenant
    feedback: int = 0
    quarantine: int = 0
    snapshots: dict[str, int] = field(default_factory=dict)  # snapshot id -> examples

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


def load_policies(path: Path = POLICIES_FILE) -> dict[str, Policy]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise TrellisError(f"cannot read the tenant policies {path}: {exc.strerror}") from exc
    return {
        row["tenant_id"]: Policy(
            row["tenant_id"], int(row["retention_days"]), row["policy_version"]
        )
        for row in rows
    }


def unlisted_retention_days() -> int:
    """The dbt var retention_unlisted_days, from dbt_project.yml (one place for it)."""
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return int(project.get("vars", {}).get(UNLISTED_VAR, 30))


def purge(target: TargetName, dry_run: bool = True, now: datetime | None = None) -> Removal:
    policies = load_policies()
    unlisted_days = unlisted_retention_days()
    moment = now or datetime.now(UTC)
    removal = Removal(_erasure_id("purge", moment.isoformat()), "purge", dry_run)
    with open_store(target) as store:
        for policy in policies.values():
            cutoff = moment - timedelta(days=policy.retention_days)
            where = "tenant_id = ? and created_at < ?"
            _remove_requests(store, where, [policy.tenant_id, cutoff], removal)
        listed = sorted(policies)
        unlisted_cutoff = moment - timedelta(days=unlisted_days)
        marks = ", ".join("?" for _ in listed) or "null"
        where = f"tenant_id not in ({marks}) and created_at < ?"
        _remove_requests(store, where, [*listed, unlisted_cutoff], removal)
        removal.quarantine += _delete(
            store, "quarantine", "quarantined_at < ?", [unlisted_cutoff], dry_run
        )
        _record(store, removal, tenant_id=None, request_id=None, moment=moment)
    return removal


def erase(
    target: TargetName,
    tenant_id: str | None = None,
    request_id: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> Removal:
    if (tenant_id is None) == (request_id is None):
        raise TrellisError("give exactly one of --tenant or --request-id")
    moment = now or datetime.now(UTC)
    kind = "erase_tenant" if tenant_id else "erase_request"
    removal = Removal(
        _erasure_id(kind, tenant_id or request_id or "", moment.isoformat()), kind, dry_run
    )
    with open_store(target) as store:
        if tenant_id is not None:
            ids = [
                row[0]
                for row in store.query(
                    f"select request_id from {RAW_SCHEMA}.requests where tenant_id = ?", [tenant_id]
                )
            ]
            _remove_requests(store, "tenant_id = ?", [tenant_id], removal)
            removal.quarantine += _delete(
                store,
                "quarantine",
                _quarantine_of_tenant(store),
                [_tenant_pattern(tenant_id)],
                dry_run,
            )
        else:
            assert request_id is not None
            ids = _subtree(store, request_id)
            tenants = store.query(
                f"select count(*) from {RAW_SCHEMA}.requests where request_id = ?", [request_id]
            )[0][0]
            if not tenants:
                raise TrellisError(f"unknown request {request_id!r}: no raw fact has this id")
            if tenants > 1:
                # a request id is unique within its tenant only: erasing by id alone
                # would take another tenant's request (and tree) with it
                raise TrellisError(
                    f"request id {request_id!r} is used by {tenants} tenants: "
                    "erase by --tenant, or remove the request by hand"
                )
            for batch in _batches(ids):
                marks = ", ".join("?" for _ in batch)
                _remove_requests(store, f"request_id in ({marks})", list(batch), removal)
        for batch in _batches(ids):
            marks = ", ".join("?" for _ in batch)
            removal.quarantine += _delete(
                store, "quarantine", f"record_id in ({marks})", list(batch), dry_run
            )
        removal.snapshots = frozen_examples(store, tenant_id, ids)
        _record(store, removal, tenant_id=tenant_id, request_id=request_id, moment=moment)
    return removal


def _remove_requests(store: Store, where: str, params: list[Any], removal: Removal) -> None:
    """Feedback first (it points at the requests), then the requests; counts by tenant."""
    counts = store.query(
        f"select tenant_id, count(*) from {RAW_SCHEMA}.requests where {where} group by tenant_id",
        params,
    )
    for tenant, count in counts:
        removal.requests[tenant] = removal.requests.get(tenant, 0) + int(count)
    # Feedback on a removed request, unless it names another tenant: a request id
    # is unique within its tenant only, and another tenant's request may share it.
    # (`where` names the requests' own columns, which the subquery resolves first.)
    about_removed = (
        f"exists (select 1 from {RAW_SCHEMA}.requests as removed where {where}"
        f" and removed.request_id = {RAW_SCHEMA}.feedback.request_id"
        f" and coalesce({RAW_SCHEMA}.feedback.record->>'tenant_id', removed.tenant_id)"
        " = removed.tenant_id)"
    )
    removal.feedback += _delete(store, "feedback", about_removed, params, removal.dry_run)
    _delete(store, "requests", where, params, removal.dry_run)


def _delete(store: Store, table: str, where: str, params: Sequence[Any], dry_run: bool) -> int:
    count = int(
        store.query(f"select count(*) from {RAW_SCHEMA}.{table} where {where}", params)[0][0]
    )
    if count and not dry_run:
        store.execute(f"delete from {RAW_SCHEMA}.{table} where {where}", params)
    return count


def _quarantine_of_tenant(store: Store) -> str:
    """A quarantined line of the tenant: its raw text names the tenant_id.

    The one difference between the targets: DuckDB's regexp_matches against
    PostgreSQL's ~ operator.
    """
    if store.target == "duckdb":
        return "regexp_matches(coalesce(raw_text, ''), ?)"
    return "coalesce(raw_text, '') ~ ?"


def _tenant_pattern(tenant_id: str) -> str:
    return r'"tenant_id"\s*:\s*"' + re.escape(tenant_id) + '"'


def _subtree(store: Store, request_id: str) -> list[str]:
    """The request and its descendants in the built lineage (only itself when none is built)."""
    built = store.query(
        "select count(*) from information_schema.tables"
        " where table_schema = 'lineage' and table_name = 'conversation_branch_nodes'"
    )[0][0]
    if not built:
        return [request_id]
    rows = store.query(
        "with recursive subtree(node_id) as ("
        " select cast(? as varchar)"
        " union"
        " select nodes.node_id from lineage.conversation_branch_nodes as nodes"
        " inner join subtree on nodes.parent_node_id = subtree.node_id"
        ") select node_id from subtree",
        [request_id],
    )
    return sorted({str(row[0]) for row in rows} | {request_id})


def _batches(ids: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def frozen_examples(
    store: Store, tenant_id: str | None, request_ids: Sequence[str]
) -> dict[str, int]:
    """Per frozen snapshot, how many of its examples come from the erased facts.

    An example belongs to the erased facts when its row (as JSON) names the
    tenant as tenant_id or tenant_scope, or names one of the request ids (the
    provenance of every dataset row lists its source requests), quoted as a
    JSON string, or escaped inside a JSON text column. Snapshots are
    registered in the DuckDB warehouse.
    """
    alternatives = []
    if tenant_id is not None:
        alternatives.append(r'\\?"tenant_(id|scope)\\?":\\?"' + re.escape(tenant_id) + r'\\?"')
    if request_ids:
        alternatives.append(r'\\?"(' + "|".join(re.escape(r) for r in request_ids) + r')\\?"')
    if not alternatives:
        return {}
    pattern = "|".join(alternatives)
    if store.target == "duckdb":
        return _count_in_snapshots(store.query, pattern)
    import duckdb

    path = duckdb_settings().path
    if not path.exists():
        return {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        return _count_in_snapshots(lambda sql, p=None: con.execute(sql, p).fetchall(), pattern)
    finally:
        con.close()


def _count_in_snapshots(
    query: Callable[..., list[tuple[Any, ...]]], pattern: str
) -> dict[str, int]:
    found: dict[str, int] = {}
    for snapshot_id, location in query(
        f"select snapshot_id, location from {RAW_SCHEMA}.dataset_snapshots"
    ):
        files = sorted(str(p) for p in Path(location).glob("*.parquet"))
        if not files:
            continue
        count = query(
            "select count(*) from read_parquet(?) as t"
            " where regexp_matches(to_json(t)::varchar, ?)",
            [files, pattern],
        )[0][0]
        if count:
            found[str(snapshot_id)] = int(count)
    return found


def _record(
    store: Store,
    removal: Removal,
    tenant_id: str | None,
    request_id: str | None,
    moment: datetime,
) -> None:
    if removal.dry_run:
        return
    store.execute(
        f"insert into {RAW_SCHEMA}.erasure_requests values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            removal.erasure_id,
            removal.kind,
            tenant_id,
            request_id,
            os.environ.get("TRELLIS_USER") or getpass.getuser(),
            removal.total_requests,
            removal.feedback,
            moment,
        ],
    )
    if store.target != "duckdb" or not removal.snapshots:
        _record_snapshots_elsewhere(removal, moment)
        return
    for snapshot_id, examples in removal.snapshots.items():
        store.execute(
            f"insert into {RAW_SCHEMA}.dataset_snapshot_erasures values (?, ?, ?, ?)",
            [removal.erasure_id, snapshot_id, examples, moment],
        )


def _record_snapshots_elsewhere(removal: Removal, moment: datetime) -> None:
    """On the postgres target the registry is in the DuckDB warehouse: record there."""
    if not removal.snapshots:
        return
    with open_store("duckdb") as duck:
        for snapshot_id, examples in removal.snapshots.items():
            duck.execute(
                f"insert into {RAW_SCHEMA}.dataset_snapshot_erasures values (?, ?, ?, ?)",
                [removal.erasure_id, snapshot_id, examples, moment],
            )


def _erasure_id(*parts: str) -> str:
    return "erasure-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
