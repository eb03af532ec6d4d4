{#- Row-level security by tenant on every relation that holds a tenant_id, run
    on-run-end (so a rebuilt table gets it back) and by `trellis tenant grant`.
    Generic over the catalog, not a list of models: raw tables written by
    trellis, staging views, every mart and any later layer are covered the
    moment they have a tenant_id column. Dispatched: PostgreSQL only (a DuckDB
    file has no roles; whoever opens it reads everything). -#}
{% macro tenant_row_security() -%}
    {{ return(adapter.dispatch('tenant_row_security', 'trellis')()) }}
{%- endmacro %}

{% macro duckdb__tenant_row_security() -%}
    select 1
{%- endmacro %}

{#- trellis_access.tenant_grants says which role reads which tenant; its own
    policy shows a role only its rows, so a tenant never learns of another.
    trellis_access.apply_tenant_security() then, for every table with a
    tenant_id: enables RLS with one select policy (the rows of the tenants
    granted to a role the reader is a member of); for every view with one:
    security_invoker, so the policies of the tables below apply to the reader
    instead of the view's owner; and grants select on it to every granted
    role (a rebuilt table has lost its grants). Owners and superusers bypass
    RLS (not forced): the dbt and ingest user still sees every row. -#}
{% macro postgres__tenant_row_security() -%}
    create schema if not exists trellis_access;

    create table if not exists trellis_access.tenant_grants (
        role_name text not null,
        tenant_id text not null,
        granted_at timestamptz not null default now(),
        primary key (role_name, tenant_id)
    );

    alter table trellis_access.tenant_grants enable row level security;

    do $do$
    begin
        if not exists (
            select 1 from pg_policy
            where polrelid = 'trellis_access.tenant_grants'::regclass and polname = 'trellis_own_grants'
        ) then
            create policy trellis_own_grants on trellis_access.tenant_grants for select
                using (role_name in (select rolname from pg_roles where pg_has_role(oid, 'member')));
        end if;
    end
    $do$;

    create or replace function trellis_access.apply_tenant_security() returns integer
    language plpgsql as $fn$
    declare
        relation record;
        grantee record;
        secured integer := 0;
    begin
        for relation in
            select classes.oid, namespaces.nspname as schema_name, classes.relname as relation_name, classes.relkind
            from pg_class as classes
            inner join pg_namespace as namespaces on classes.relnamespace = namespaces.oid
            inner join pg_attribute as attributes
                on classes.oid = attributes.attrelid and attributes.attname = 'tenant_id' and not attributes.attisdropped
            where classes.relkind in ('r', 'p', 'v')
                and namespaces.nspname not in ('information_schema', 'trellis_access')
                and namespaces.nspname not like 'pg\_%'
            order by 2, 3
        loop
            if relation.relkind = 'v' then
                execute format('alter view %I.%I set (security_invoker = true)', relation.schema_name, relation.relation_name);
            else
                execute format('alter table %I.%I enable row level security', relation.schema_name, relation.relation_name);
                if not exists (select 1 from pg_policy where polrelid = relation.oid and polname = 'trellis_tenant_read') then
                    execute format(
                        'create policy trellis_tenant_read on %I.%I for select using ('
                        'tenant_id in (select grants.tenant_id from trellis_access.tenant_grants as grants))',
                        relation.schema_name, relation.relation_name
                    );
                end if;
            end if;
            for grantee in
                select distinct grants.role_name from trellis_access.tenant_grants as grants
                inner join pg_roles on grants.role_name = pg_roles.rolname
            loop
                execute format('grant usage on schema %I to %I', relation.schema_name, grantee.role_name);
                execute format('grant select on %I.%I to %I', relation.schema_name, relation.relation_name, grantee.role_name);
            end loop;
            secured := secured + 1;
        end loop;
        return secured;
    end
    $fn$;

    select trellis_access.apply_tenant_security();
{%- endmacro %}

{% macro default__tenant_row_security() -%}
    {{ trellis.unsupported_adapter('tenant_row_security') }}
{%- endmacro %}
