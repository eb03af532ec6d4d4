"""Tenant read access on PostgreSQL: which role reads which tenant's rows.

The rows themselves are guarded by row-level security that the dbt project
enables (macros/tenant_row_security.sql: a policy on every relation with a
`tenant_id`, reading `trellis_access.tenant_grants`). A grant is one row of
that table plus `trellis_access.apply_tenant_security()`, which grants the
role select on every such relation; a revoke deletes the row and, when the
role has no tenant left, takes those privileges back. Owners and superusers
are not subject to the policies (docs/tenants.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from trellis.config import TargetName, postgres_settings
from trellis.errors import TrellisError

CONNECT_TIMEOUT_SECONDS = 5

# The relations apply_tenant_security() covers, for taking grants back.
_TENANT_RELATIONS = """
    select namespaces.nspname, classes.relname
    from pg_class as classes
    inner join pg_namespace as namespaces on classes.relnamespace = namespaces.oid
    inner join pg_attribute as attributes
        on classes.oid = attributes.attrelid
        and attributes.attname = 'tenant_id' and not attributes.attisdropped
    where classes.relkind in ('r', 'p', 'v')
        and namespaces.nspname not in ('information_schema', 'trellis_access')
        and namespaces.nspname not like 'pg\\_%'
    order by 1, 2
"""


@dataclass(frozen=True)
class GrantResult:
    role: str
    tenant_id: str
    role_created: bool
    relations: int


@dataclass(frozen=True)
class RevokeResult:
    role: str
    tenant_id: str
    was_granted: bool
    remaining_tenants: int
    relations_revoked: int


def _require_postgres(target: TargetName) -> None:
    if target != "postgres":
        raise TrellisError(
            "tenant access is PostgreSQL's (row-level security and roles);"
            " a DuckDB file has no roles: use --target postgres"
        )


def _check_names(tenant_id: str, role: str) -> None:
    if not tenant_id:
        raise TrellisError("the tenant id is empty")
    if not role or len(role.encode()) > 63:
        raise TrellisError("a role name is 1 to 63 bytes long")


def _connect() -> psycopg.Connection[tuple[Any, ...]]:
    settings = postgres_settings()
    try:
        return psycopg.connect(
            settings.conninfo(), autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
    except psycopg.Error as exc:
        where = f"{settings.host}:{settings.port}/{settings.dbname}"
        raise TrellisError(
            f"cannot connect to PostgreSQL at {where}: {exc}".splitlines()[0]
        ) from exc


def _require_security(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    found = conn.execute(
        "select to_regprocedure('trellis_access.apply_tenant_security()') is not null"
    ).fetchone()
    if not found or not found[0]:
        raise TrellisError(
            "this warehouse has no tenant security yet: run `dbt build --target postgres` first"
        )


def grant_tenant(tenant_id: str, role: str, target: TargetName = "postgres") -> GrantResult:
    """Let `role` read the rows of `tenant_id` (and of its other granted tenants) only."""
    _require_postgres(target)
    _check_names(tenant_id, role)
    with _connect() as conn:
        _require_security(conn)
        with conn.transaction():
            exists = conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone()
            if not exists:
                conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
            conn.execute(
                sql.SQL("grant usage on schema trellis_access to {}").format(sql.Identifier(role))
            )
            conn.execute(
                sql.SQL("grant select on trellis_access.tenant_grants to {}").format(
                    sql.Identifier(role)
                )
            )
            conn.execute(
                "insert into trellis_access.tenant_grants (role_name, tenant_id) values (%s, %s)"
                " on conflict do nothing",
                [role, tenant_id],
            )
            row = conn.execute("select trellis_access.apply_tenant_security()").fetchone()
    return GrantResult(role, tenant_id, not exists, int(row[0]) if row else 0)


def revoke_tenant(tenant_id: str, role: str, target: TargetName = "postgres") -> RevokeResult:
    """Take `tenant_id` from `role`; with no tenant left, its read privileges go too."""
    _require_postgres(target)
    _check_names(tenant_id, role)
    with _connect() as conn:
        _require_security(conn)
        with conn.transaction():
            deleted = conn.execute(
                "delete from trellis_access.tenant_grants where role_name = %s and tenant_id = %s",
                [role, tenant_id],
            ).rowcount
            left = conn.execute(
                "select count(*) from trellis_access.tenant_grants where role_name = %s", [role]
            ).fetchone()
            remaining = int(left[0]) if left else 0
            revoked = 0
            has_role = conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone()
            if remaining == 0 and has_role:
                revoked = _revoke_all(conn, role)
    return RevokeResult(role, tenant_id, deleted > 0, remaining, revoked)


def _revoke_all(conn: psycopg.Connection[tuple[Any, ...]], role: str) -> int:
    grantee = sql.Identifier(role)
    relations = conn.execute(_TENANT_RELATIONS).fetchall()
    for schema, name in relations:
        conn.execute(
            sql.SQL("revoke select on {}.{} from {}").format(
                sql.Identifier(str(schema)), sql.Identifier(str(name)), grantee
            )
        )
    for schema in sorted({str(schema) for schema, _ in relations} | {"trellis_access"}):
        conn.execute(
            sql.SQL("revoke usage on schema {} from {}").format(sql.Identifier(schema), grantee)
        )
    conn.execute(sql.SQL("revoke select on trellis_access.tenant_grants from {}").format(grantee))
    return len(relations)
