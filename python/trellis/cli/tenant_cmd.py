"""`trellis tenant grant|revoke` (registered by trellis.cli)."""

from __future__ import annotations

from typing import Annotated

import typer

from trellis.config import resolve_target
from trellis.services.tenants import grant_tenant, revoke_tenant

TenantArg = Annotated[str, typer.Argument(help="The tenant_id whose rows the role reads.")]
RoleOpt = Annotated[
    str, typer.Option("--role", help="PostgreSQL role (created NOLOGIN if missing).")
]
Target = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-t",
        help="postgres (tenant access needs roles) [default: TRELLIS_TARGET]",
        show_default=False,
    ),
]

tenant_app = typer.Typer(
    help="Read access to one tenant's rows on PostgreSQL (row-level security).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(tenant_app, name="tenant")


@tenant_app.command("grant")
def grant(tenant: TenantArg, role: RoleOpt, target: Target = None) -> None:
    """Let ROLE read TENANT's rows, and no other tenant's, in every schema."""
    result = grant_tenant(tenant, role, resolve_target(target))
    created = " (created, NOLOGIN)" if result.role_created else ""
    typer.echo(
        f"granted tenant {result.tenant_id} to role {result.role}{created}:"
        f" {result.relations} relations with a tenant_id"
    )


@tenant_app.command("revoke")
def revoke(tenant: TenantArg, role: RoleOpt, target: Target = None) -> None:
    """Take TENANT's rows from ROLE (its privileges too when no tenant is left)."""
    result = revoke_tenant(tenant, role, resolve_target(target))
    if not result.was_granted:
        typer.echo(f"role {result.role} had no grant of tenant {result.tenant_id}")
    elif result.remaining_tenants:
        typer.echo(
            f"revoked tenant {result.tenant_id} from role {result.role};"
            f" {result.remaining_tenants} tenant(s) still granted"
        )
    else:
        typer.echo(
            f"revoked tenant {result.tenant_id} from role {result.role}:"
            f" no tenant left, select taken back on {result.relations_revoked} relations"
        )
