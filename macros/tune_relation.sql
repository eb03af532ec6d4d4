{#- Project-wide post-hook: what a freshly written table needs before the next
    model reads it. Dispatched.
    PostgreSQL: `analyze` (dbt builds the next model seconds later, before
    autovacuum has sampled the table, and the planner would guess its size and
    key spread: nested loops over a million rows), plus a btree index on the
    incremental unique_key (each incremental run deletes the rows it rewrites
    by that key) and on any column lists in meta.postgres_indexes (keys a
    recursive CTE joins on once per level). Views are left alone.
    DuckDB: nothing (it keeps min/max zone maps on every column; an ART index
    would only slow the inserts). -#}
{% macro tune_relation() -%}
    {{ return(adapter.dispatch('tune_relation', 'trellis')()) }}
{%- endmacro %}

{% macro duckdb__tune_relation() -%}
{%- endmacro %}

{% macro postgres__tune_relation() -%}
    {%- if config.get('materialized') in ['table', 'incremental'] -%}
        {%- set index_lists = [] -%}
        {%- set unique_key = config.get('unique_key') -%}
        {%- if unique_key -%}
            {%- do index_lists.append([unique_key] if unique_key is string else unique_key) -%}
        {%- endif -%}
        {%- for columns in (config.get('meta') or {}).get('postgres_indexes', []) -%}
            {%- do index_lists.append(columns) -%}
        {%- endfor -%}
        {%- for columns in index_lists %}
            {%- set index_name = this.identifier[:40] ~ '__' ~ local_md5(columns | join(','))[:12] %}
    create index if not exists "{{ index_name }}" on {{ this }} ({{ columns | join(', ') }});
        {%- endfor %}
    analyze {{ this }};
    {%- endif -%}
{%- endmacro %}

{% macro default__tune_relation() -%}
    {{ trellis.unsupported_adapter('tune_relation') }}
{%- endmacro %}
